//! Why a request is refused with a client error (HTTP 4xx), with stable machine-readable codes.

/// A request the collector refuses outright: the client broke the Events API contract.
///
/// The HTTP layer answers it with [`RequestError::status`] and puts [`RequestError::code`] in
/// the response, so a site owner debugging an integration sees what is wrong. Messages never
/// echo payload values, so they are safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Only `POST` is accepted.
    #[error("method not allowed: send the event with POST")]
    MethodNotAllowed,
    /// The `Content-Type` is neither `application/json` nor `text/plain`.
    #[error("unsupported content type: send application/json or text/plain")]
    UnsupportedMediaType,
    /// The body is larger than [`crate::limits::MAX_BODY_BYTES`].
    #[error("body is {len} bytes, the limit is {max}")]
    BodyTooLarge {
        /// Body size, or the number of bytes read when the HTTP layer stopped reading.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The body is not JSON (or is not one JSON value).
    #[error("body is not valid JSON ({kind} error at line {line}, column {column})")]
    InvalidJson {
        /// `syntax`, `eof` or `data`.
        kind: &'static str,
        /// Line of the error, from 1.
        line: usize,
        /// Column of the error, from 1.
        column: usize,
    },
    /// A required field is absent or `null`.
    #[error("field `{0}` is required")]
    MissingField(&'static str),
    /// A field has the wrong type or an unusable value.
    #[error("field `{field}` is invalid: {reason}")]
    InvalidField {
        /// The field, by its long name (`props`, `revenue`...).
        field: &'static str,
        /// What is wrong, in a few words.
        reason: &'static str,
    },
    /// A field is longer than its limit.
    #[error("field `{field}` is {len} bytes long, the limit is {max}")]
    TooLong {
        /// The field, by its long name; `props.key` and `props.value` for properties.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More custom properties than [`hitkeep_protocol::limits::MAX_PROPS`].
    #[error("{count} custom properties, the limit is {max}")]
    TooManyProps {
        /// How many were sent (not counting `null` values).
        count: usize,
        /// The limit.
        max: usize,
    },
}

impl RequestError {
    /// A stable, machine-readable code, for the response body or a header.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed => "method_not_allowed",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::InvalidJson { .. } => "invalid_json",
            Self::MissingField(_) => "missing_field",
            Self::InvalidField { .. } => "invalid_field",
            Self::TooLong { .. } => "field_too_long",
            Self::TooManyProps { .. } => "too_many_props",
        }
    }

    /// The field at fault, when there is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::MissingField(field) | Self::InvalidField { field, .. } | Self::TooLong { field, .. } => {
                Some(field)
            }
            Self::TooManyProps { .. } => Some("props"),
            _ => None,
        }
    }

    /// The HTTP status to answer with: 405, 413, 415, else 400.
    pub fn status(&self) -> u16 {
        match self {
            Self::MethodNotAllowed => 405,
            Self::BodyTooLarge { .. } => 413,
            Self::UnsupportedMediaType => 415,
            _ => 400,
        }
    }

    pub(crate) fn from_json(error: &serde_json::Error) -> Self {
        let kind = match error.classify() {
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Eof => "eof",
            serde_json::error::Category::Data => "data",
            serde_json::error::Category::Io => "io",
        };
        Self::InvalidJson { kind, line: error.line(), column: error.column() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses() {
        assert_eq!(RequestError::MethodNotAllowed.status(), 405);
        assert_eq!(RequestError::UnsupportedMediaType.status(), 415);
        assert_eq!(RequestError::BodyTooLarge { len: 9000, max: 8192 }.status(), 413);
        let missing = RequestError::MissingField("url");
        assert_eq!((missing.code(), missing.status(), missing.field()), ("missing_field", 400, Some("url")));
        let many = RequestError::TooManyProps { count: 31, max: 30 };
        assert_eq!((many.code(), many.field()), ("too_many_props", Some("props")));
        assert_eq!(many.to_string(), "31 custom properties, the limit is 30");
    }
}
