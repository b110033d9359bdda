//! The responses the component gives, as plain data: status, headers, body.

use hitkeep_collector_core::RequestError;

/// The response header that lists why sites did not count an accepted event
/// (`bot`, `dnt,unknown_site`).
pub const DROPPED_HEADER: &str = "x-hitkeep-dropped";

/// How long browsers may cache the preflight, in seconds (a day).
const PREFLIGHT_MAX_AGE: &str = "86400";

/// A response, before it becomes a `wasi:http` one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Header names (lower-case) and values.
    pub headers: Vec<(&'static str, String)>,
    /// Body, empty for none.
    pub body: Vec<u8>,
}

impl Reply {
    fn empty(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: Vec::new() }
    }

    /// A bodiless reply (`304`).
    pub fn status(status: u16) -> Self {
        Self::empty(status)
    }

    /// A reply with a body of this content type.
    pub fn body(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Self { status, headers: vec![("content-type", content_type.to_owned())], body }
    }

    /// `302 Found` to `location`.
    pub fn redirect(location: &str) -> Self {
        Self::empty(302).with_header("location", location)
    }

    fn json(status: u16, value: &serde_json::Value) -> Self {
        let body = serde_json::to_vec(value).expect("a json value always serializes");
        Self { status, headers: vec![("content-type", "application/json".to_owned())], body }
    }

    /// An error body: `{"error":{"code":"...","message":"..."}}`.
    pub fn error(status: u16, code: &str, message: &str) -> Self {
        Self::json(status, &serde_json::json!({ "error": { "code": code, "message": message } }))
    }

    /// A request that breaks the Events API contract: its status, code, message and field.
    pub fn request_error(error: &RequestError) -> Self {
        let mut body = serde_json::json!({ "error": { "code": error.code(), "message": error.to_string() } });
        if let Some(field) = error.field() {
            body["error"]["field"] = field.into();
        }
        let reply = Self::json(error.status(), &body);
        match error {
            RequestError::MethodNotAllowed => reply.with_header("allow", "POST, OPTIONS"),
            _ => reply,
        }
    }

    /// `202 Accepted` with an empty body, and the drop codes (if any) in [`DROPPED_HEADER`].
    pub fn accepted(drop_codes: &[&str]) -> Self {
        let reply = Self::empty(202);
        if drop_codes.is_empty() { reply } else { reply.with_header(DROPPED_HEADER, &drop_codes.join(",")) }
    }

    /// The CORS preflight of `/api/event`: any origin may post events.
    pub fn preflight() -> Self {
        Self::empty(204)
            .with_header("access-control-allow-methods", "POST")
            .with_header("access-control-allow-headers", "content-type")
            .with_header("access-control-max-age", PREFLIGHT_MAX_AGE)
            .with_cors()
    }

    /// `/healthz`: `{"status":"ok"}`, or no body for `HEAD`.
    pub fn health(head_only: bool) -> Self {
        let reply = Self::json(200, &serde_json::json!({ "status": "ok" }));
        if head_only { Self { body: Vec::new(), ..reply } } else { reply }
    }

    /// No such route.
    pub fn not_found() -> Self {
        Self::error(404, "not_found", "no such route: events go to POST /api/event")
    }

    /// A method the route does not take.
    pub fn method_not_allowed(allow: &str) -> Self {
        Self::error(405, "method_not_allowed", "method not allowed").with_header("allow", allow)
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    /// Lets pages of any origin post events and read the answer, drop header included.
    pub fn with_cors(self) -> Self {
        self.with_header("access-control-allow-origin", "*")
            .with_header("access-control-expose-headers", DROPPED_HEADER)
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| *key == name).map(|(_, value)| value.as_str())
    }

    /// The body's `error.code`, for error replies.
    pub fn error_code(&self) -> Option<String> {
        let body: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        body["error"]["code"].as_str().map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_has_no_body_and_lists_drops() {
        let accepted = Reply::accepted(&[]);
        assert_eq!((accepted.status, accepted.body.len(), accepted.header(DROPPED_HEADER)), (202, 0, None));
        let dropped = Reply::accepted(&["dnt", "unknown_site"]);
        assert_eq!(dropped.header(DROPPED_HEADER), Some("dnt,unknown_site"));
    }

    #[test]
    fn error_bodies() {
        let error = Reply::error(503, "sink_unavailable", "try again later");
        assert_eq!(error.status, 503);
        assert_eq!(error.header("content-type"), Some("application/json"));
        assert_eq!(error.body, br#"{"error":{"code":"sink_unavailable","message":"try again later"}}"#);
        assert_eq!(error.error_code().as_deref(), Some("sink_unavailable"));
    }

    #[test]
    fn request_errors_carry_status_code_and_field() {
        let missing = Reply::request_error(&RequestError::MissingField("url"));
        assert_eq!(missing.status, 400);
        let body: serde_json::Value = serde_json::from_slice(&missing.body).unwrap();
        assert_eq!(body["error"]["code"], "missing_field");
        assert_eq!(body["error"]["field"], "url");
        assert_eq!(body["error"]["message"], "field `url` is required");
        let method = Reply::request_error(&RequestError::MethodNotAllowed);
        assert_eq!((method.status, method.header("allow")), (405, Some("POST, OPTIONS")));
        let too_large = Reply::request_error(&RequestError::BodyTooLarge { len: 9000, max: 8192 });
        assert_eq!(too_large.status, 413);
        assert_eq!(Reply::request_error(&RequestError::UnsupportedMediaType).status, 415);
    }

    #[test]
    fn preflight_and_cors() {
        let preflight = Reply::preflight();
        assert_eq!(preflight.status, 204);
        assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
        assert_eq!(preflight.header("access-control-allow-methods"), Some("POST"));
        assert_eq!(preflight.header("access-control-allow-headers"), Some("content-type"));
        assert_eq!(preflight.header("access-control-max-age"), Some("86400"));
        let cors = Reply::accepted(&["bot"]).with_cors();
        assert_eq!(cors.header("access-control-expose-headers"), Some(DROPPED_HEADER));
    }

    #[test]
    fn health_and_not_found() {
        assert_eq!(Reply::health(false).body, br#"{"status":"ok"}"#);
        assert!(Reply::health(true).body.is_empty());
        let not_found = Reply::not_found();
        assert_eq!((not_found.status, not_found.error_code().as_deref()), (404, Some("not_found")));
        let wrong_method = Reply::method_not_allowed("GET, HEAD");
        assert_eq!((wrong_method.status, wrong_method.header("allow")), (405, Some("GET, HEAD")));
    }
}
