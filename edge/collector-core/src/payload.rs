//! The Events API payload (Plausible's `POST /api/event` shape): parsing and checking it.
//!
//! Long and short field names are both accepted, as the Plausible tracker sends the short
//! ones: `name`/`n`, `url`/`u`, `domain`/`d`, `referrer`/`r`, `props`/`p`/`m`/`meta`,
//! `revenue`/`$`, `interactive`/`i`, `hashMode`/`h`, and for Plausible's `engagement` events
//! `scroll_depth`/`sd` and `engagement_time`/`e`. Other fields (such as the tracker's screen
//! width `w`) are ignored.

use std::fmt;

use hitkeep_protocol::Revenue;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use crate::RequestError;
use crate::limits::{
    MAX_BODY_BYTES, MAX_DOMAIN_LEN, MAX_DOMAINS_PER_EVENT, MAX_EVENT_NAME_LEN, MAX_PROP_KEY_LEN,
    MAX_PROP_VALUE_LEN, MAX_PROPS, MAX_URL_LEN,
};
use crate::revenue::parse_revenue;

/// One event as the tracker sent it, checked against the limits but not yet interpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// Event name: `pageview` or a custom event's name; 1 to 120 bytes.
    pub name: String,
    /// The page's URL as sent, at most [`MAX_URL_LEN`] bytes.
    pub url: String,
    /// The sites the event is for: the comma-separated `domain` split, trimmed, lower-cased,
    /// without duplicates, in the order given; 1 to [`MAX_DOMAINS_PER_EVENT`] of them.
    pub domains: Vec<String>,
    /// `document.referrer`, when not empty.
    pub referrer: Option<String>,
    /// Custom properties in the order sent, keys unique (a repeated key keeps its first place
    /// and its last value). Numbers and booleans are turned into text; `null` and empty values
    /// are left out.
    pub props: Vec<(String, String)>,
    /// Revenue, exact to the millionth.
    pub revenue: Option<Revenue>,
    /// `false` for events that should not end a bounce; `true` when absent.
    pub interactive: bool,
    /// The site routes with the URL fragment (`#/about`), so the fragment is part of the page.
    pub hash_mode: bool,
    /// How far down the page the visitor scrolled, in percent (engagement events).
    pub scroll_depth: Option<u8>,
    /// How long the page was in the foreground, in milliseconds (engagement events).
    pub engagement_ms: Option<u64>,
}

/// Parses and checks a request body.
///
/// Never panics, whatever the bytes; deeply nested JSON is refused by the JSON parser's
/// recursion limit. This is the entry point of the fuzz target in `fuzz/`.
pub fn parse_payload(body: &[u8]) -> Result<Payload, RequestError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(RequestError::BodyTooLarge { len: body.len(), max: MAX_BODY_BYTES });
    }
    let mut stash = None;
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parsed = PayloadSeed { stash: &mut stash }
        .deserialize(&mut deserializer)
        .and_then(|raw| deserializer.end().map(|()| raw));
    match parsed {
        Ok(raw) => raw.finish(),
        Err(error) => Err(stash.unwrap_or_else(|| classify_json_error(body, &error))),
    }
}

fn classify_json_error(body: &[u8], error: &serde_json::Error) -> RequestError {
    if error.is_data() && serde_json::from_slice::<IgnoredAny>(body).is_ok() {
        return RequestError::InvalidField { field: "body", reason: "must be a JSON object" };
    }
    RequestError::from_json(error)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Name,
    Url,
    Domain,
    Referrer,
    Props,
    Revenue,
    Interactive,
    HashMode,
    ScrollDepth,
    EngagementTime,
    Ignored,
}

impl Field {
    fn from_key(key: &str) -> Self {
        match key {
            "name" | "n" => Self::Name,
            "url" | "u" => Self::Url,
            "domain" | "d" => Self::Domain,
            "referrer" | "r" => Self::Referrer,
            "props" | "p" | "m" | "meta" => Self::Props,
            "revenue" | "$" => Self::Revenue,
            "interactive" | "i" => Self::Interactive,
            "hashMode" | "h" => Self::HashMode,
            "scroll_depth" | "sd" => Self::ScrollDepth,
            "engagement_time" | "e" => Self::EngagementTime,
            _ => Self::Ignored,
        }
    }

    fn long_name(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Url => "url",
            Self::Domain => "domain",
            Self::Referrer => "referrer",
            Self::Props => "props",
            Self::Revenue => "revenue",
            Self::Interactive => "interactive",
            Self::HashMode => "hashMode",
            Self::ScrollDepth => "scroll_depth",
            Self::EngagementTime => "engagement_time",
            Self::Ignored => "",
        }
    }
}

impl<'de> de::Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Field;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Field, E> {
                Ok(Field::from_key(key))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The fields as found, before their checks.
#[derive(Default)]
struct RawPayload {
    name: Option<Value>,
    url: Option<Value>,
    domain: Option<Value>,
    referrer: Option<Value>,
    props: Option<Vec<(String, String)>>,
    props_count: usize,
    revenue: Option<Value>,
    interactive: Option<Value>,
    hash_mode: Option<Value>,
    scroll_depth: Option<Value>,
    engagement_time: Option<Value>,
}

/// Deserializes the top-level object, keeping a precise [`RequestError`] aside when a field
/// is wrong (serde's own errors only carry text).
struct PayloadSeed<'s> {
    stash: &'s mut Option<RequestError>,
}

impl<'de> DeserializeSeed<'de> for PayloadSeed<'_> {
    type Value = RawPayload;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawPayload, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PayloadSeed<'_> {
    type Value = RawPayload;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawPayload, A::Error> {
        let mut raw = RawPayload::default();
        while let Some(field) = map.next_key::<Field>()? {
            let already_seen = match field {
                Field::Name => raw.name.is_some(),
                Field::Url => raw.url.is_some(),
                Field::Domain => raw.domain.is_some(),
                Field::Referrer => raw.referrer.is_some(),
                Field::Props => raw.props.is_some(),
                Field::Revenue => raw.revenue.is_some(),
                Field::Interactive => raw.interactive.is_some(),
                Field::HashMode => raw.hash_mode.is_some(),
                Field::ScrollDepth => raw.scroll_depth.is_some(),
                Field::EngagementTime => raw.engagement_time.is_some(),
                Field::Ignored => false,
            };
            if already_seen {
                *self.stash =
                    Some(RequestError::InvalidField { field: field.long_name(), reason: "is given twice" });
                return Err(de::Error::custom("field given twice"));
            }
            match field {
                Field::Name => raw.name = Some(map.next_value()?),
                Field::Url => raw.url = Some(map.next_value()?),
                Field::Domain => raw.domain = Some(map.next_value()?),
                Field::Referrer => raw.referrer = Some(map.next_value()?),
                Field::Revenue => raw.revenue = Some(map.next_value()?),
                Field::Interactive => raw.interactive = Some(map.next_value()?),
                Field::HashMode => raw.hash_mode = Some(map.next_value()?),
                Field::ScrollDepth => raw.scroll_depth = Some(map.next_value()?),
                Field::EngagementTime => raw.engagement_time = Some(map.next_value()?),
                Field::Props => {
                    let props = map.next_value_seed(PropsSeed { stash: &mut *self.stash, nested: false })?;
                    raw.props_count = props.count;
                    raw.props = Some(props.entries);
                }
                Field::Ignored => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(raw)
    }
}

#[derive(Default)]
struct Props {
    entries: Vec<(String, String)>,
    /// Every non-null entry seen, so a "too many" error can say how many.
    count: usize,
}

const PROPS_SHAPE: RequestError = RequestError::InvalidField {
    field: "props",
    reason: "must be an object (or a JSON-encoded object) of strings, numbers and booleans",
};

struct PropsSeed<'s> {
    stash: &'s mut Option<RequestError>,
    /// Inside a JSON-encoded string already: a string there is refused, not decoded again.
    nested: bool,
}

impl<'de> DeserializeSeed<'de> for PropsSeed<'_> {
    type Value = Props;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Props, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl PropsSeed<'_> {
    fn refuse<E: de::Error>(self, error: RequestError) -> Result<Props, E> {
        *self.stash = Some(error);
        Err(E::custom("invalid props"))
    }
}

impl<'de> Visitor<'de> for PropsSeed<'_> {
    type Value = Props;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an object of custom properties")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Props, A::Error> {
        let mut props = Props::default();
        while let Some(key) = map.next_key::<String>()? {
            let text = match map.next_value::<Value>()? {
                Value::Null => continue,
                Value::Bool(flag) => flag.to_string(),
                Value::Number(number) => number.to_string(),
                Value::String(text) => text,
                Value::Array(_) | Value::Object(_) => return self.refuse(PROPS_SHAPE),
            };
            if text.is_empty() {
                continue;
            }
            if let Some(entry) = props.entries.iter_mut().find(|(known, _)| *known == key) {
                entry.1 = text;
                continue;
            }
            props.count += 1;
            if props.entries.len() < MAX_PROPS {
                props.entries.push((key, text));
            }
        }
        Ok(props)
    }

    fn visit_str<E: de::Error>(self, encoded: &str) -> Result<Props, E> {
        if encoded.trim().is_empty() {
            return Ok(Props::default());
        }
        if self.nested {
            return self.refuse(PROPS_SHAPE);
        }
        let mut deserializer = serde_json::Deserializer::from_str(encoded);
        let decoded = PropsSeed { stash: &mut *self.stash, nested: true }
            .deserialize(&mut deserializer)
            .and_then(|props| deserializer.end().map(|()| props));
        match decoded {
            Ok(props) => Ok(props),
            Err(_) if self.stash.is_some() => Err(E::custom("invalid props")),
            Err(_) => self.refuse(PROPS_SHAPE),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Props, E> {
        Ok(Props::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<Props, E> {
        Ok(Props::default())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Props, E> {
        self.refuse(PROPS_SHAPE)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Props, E> {
        self.refuse(PROPS_SHAPE)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Props, E> {
        self.refuse(PROPS_SHAPE)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Props, E> {
        self.refuse(PROPS_SHAPE)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Props, A::Error> {
        self.refuse(PROPS_SHAPE)
    }
}

fn required_text(value: Option<Value>, field: &'static str) -> Result<String, RequestError> {
    match value {
        None | Some(Value::Null) => Err(RequestError::MissingField(field)),
        Some(Value::String(text)) if text.is_empty() => {
            Err(RequestError::InvalidField { field, reason: "must not be empty" })
        }
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(RequestError::InvalidField { field, reason: "must be a string" }),
    }
}

fn flag(value: Option<Value>, field: &'static str, default: bool) -> Result<bool, RequestError> {
    match value {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(flag)) => Ok(flag),
        Some(Value::Number(number)) => Ok(number.as_f64().is_some_and(|n| n != 0.0)),
        Some(_) => Err(RequestError::InvalidField { field, reason: "must be a boolean" }),
    }
}

fn check_len(field: &'static str, value: &str, max: usize) -> Result<(), RequestError> {
    if value.len() > max {
        return Err(RequestError::TooLong { field, len: value.len(), max });
    }
    Ok(())
}

fn split_domains(list: &str) -> Result<Vec<String>, RequestError> {
    let mut domains: Vec<String> = Vec::new();
    for domain in list.split(',') {
        let domain = domain.trim().trim_end_matches('.');
        if domain.is_empty() {
            continue;
        }
        check_len("domain", domain, MAX_DOMAIN_LEN)?;
        let domain = domain.to_lowercase();
        if !domains.contains(&domain) {
            domains.push(domain);
        }
        if domains.len() > MAX_DOMAINS_PER_EVENT {
            return Err(RequestError::InvalidField { field: "domain", reason: "names more than 16 sites" });
        }
    }
    if domains.is_empty() {
        return Err(RequestError::InvalidField { field: "domain", reason: "must name a site" });
    }
    Ok(domains)
}

impl RawPayload {
    fn finish(self) -> Result<Payload, RequestError> {
        let name = required_text(self.name, "name")?;
        check_len("name", &name, MAX_EVENT_NAME_LEN)?;
        let url = required_text(self.url, "url")?;
        check_len("url", &url, MAX_URL_LEN)?;
        let domains = split_domains(&required_text(self.domain, "domain")?)?;
        let referrer = match self.referrer {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) if text.trim().is_empty() => None,
            Some(Value::String(text)) => Some(text),
            Some(_) => {
                return Err(RequestError::InvalidField { field: "referrer", reason: "must be a string" });
            }
        };
        let props = self.props.unwrap_or_default();
        if self.props_count > MAX_PROPS {
            return Err(RequestError::TooManyProps { count: self.props_count, max: MAX_PROPS });
        }
        for (key, value) in &props {
            if key.is_empty() {
                return Err(RequestError::InvalidField { field: "props.key", reason: "must not be empty" });
            }
            check_len("props.key", key, MAX_PROP_KEY_LEN)?;
            check_len("props.value", value, MAX_PROP_VALUE_LEN)?;
        }
        let revenue = match self.revenue {
            Some(value) => parse_revenue(value)?,
            None => None,
        };
        Ok(Payload {
            name,
            url,
            domains,
            referrer,
            props,
            revenue,
            interactive: flag(self.interactive, "interactive", true)?,
            hash_mode: flag(self.hash_mode, "hashMode", false)?,
            scroll_depth: count(self.scroll_depth, "scroll_depth", 100)?.map(|depth| depth as u8),
            engagement_ms: count(self.engagement_time, "engagement_time", MAX_ENGAGEMENT_MS)?,
        })
    }
}

/// A day: longer "engagement" is a tab left open, not attention.
const MAX_ENGAGEMENT_MS: u64 = 24 * 60 * 60 * 1000;

/// A non-negative whole number, clamped to `max` (`null` is absent).
fn count(value: Option<Value>, field: &'static str, max: u64) -> Result<Option<u64>, RequestError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => match number.as_f64() {
            Some(n) if n >= 0.0 && n.is_finite() => Ok(Some((n as u64).min(max))),
            _ => Err(RequestError::InvalidField { field, reason: "must be a non-negative number" }),
        },
        Some(_) => Err(RequestError::InvalidField { field, reason: "must be a number" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Payload, RequestError> {
        parse_payload(json.as_bytes())
    }

    fn minimal() -> serde_json::Map<String, Value> {
        let Value::Object(map) =
            serde_json::json!({"name": "pageview", "url": "https://example.com/", "domain": "example.com"})
        else {
            unreachable!()
        };
        map
    }

    fn with(key: &str, value: Value) -> Result<Payload, RequestError> {
        let mut map = minimal();
        map.insert(key.into(), value);
        parse_payload(&serde_json::to_vec(&map).unwrap())
    }

    #[test]
    fn long_and_short_names() {
        let long = parse(
            r#"{"name":"Signup","url":"https://a.com/x","domain":"a.com","referrer":"https://b.com/",
                "props":{"plan":"pro"},"revenue":{"currency":"EUR","amount":"1.5"},
                "interactive":false,"hashMode":true,"unknown":[1,{"deep":null}]}"#,
        )
        .unwrap();
        let short = parse(
            r#"{"n":"Signup","u":"https://a.com/x","d":"a.com","r":"https://b.com/","m":"{\"plan\":\"pro\"}",
                "$":"{\"currency\":\"eur\",\"amount\":1.5}","i":false,"h":1,"w":1280}"#,
        )
        .unwrap();
        assert_eq!(long, short);
        assert_eq!(long.props, vec![("plan".to_string(), "pro".to_string())]);
        assert_eq!(long.revenue, Some(Revenue { amount_micros: 1_500_000, currency: "EUR".into() }));
        assert!(!long.interactive && long.hash_mode);
        assert_eq!(long.referrer.as_deref(), Some("https://b.com/"));
    }

    #[test]
    fn defaults() {
        let payload = parse(r#"{"n":"pageview","u":"https://a.com","d":"a.com","r":null,"h":0}"#).unwrap();
        assert!(payload.interactive);
        assert!(!payload.hash_mode);
        assert_eq!(payload.referrer, None);
        assert!(payload.props.is_empty() && payload.revenue.is_none());
        assert_eq!(with("r", Value::from("  ")).unwrap().referrer, None);
    }

    #[test]
    fn required_fields() {
        for field in ["name", "url", "domain"] {
            let mut map = minimal();
            map.remove(field);
            let error = parse_payload(&serde_json::to_vec(&map).unwrap()).unwrap_err();
            assert_eq!(error, RequestError::MissingField(field));
            assert_eq!(with(field, Value::Null).unwrap_err(), RequestError::MissingField(field));
            assert_eq!(with(field, Value::from(3)).unwrap_err().code(), "invalid_field");
            assert_eq!(with(field, Value::from("")).unwrap_err().code(), "invalid_field");
        }
    }

    #[test]
    fn body_shape_errors() {
        assert_eq!(parse("").unwrap_err().code(), "invalid_json");
        assert_eq!(parse("{").unwrap_err().code(), "invalid_json");
        assert_eq!(parse("{} x").unwrap_err().code(), "invalid_json");
        assert_eq!(parse("\u{feff}{}").unwrap_err().code(), "invalid_json");
        assert!(matches!(parse("{\"n\":\"a\"\n,]").unwrap_err(), RequestError::InvalidJson { line: 2, .. }));
        for not_object in ["[]", "1", "\"s\"", "null", "true"] {
            let error = parse(not_object).unwrap_err();
            assert_eq!(error.field(), Some("body"), "{not_object}");
        }
        let twice = parse(r#"{"n":"a","name":"b","u":"https://a.com","d":"a.com"}"#).unwrap_err();
        assert_eq!(twice, RequestError::InvalidField { field: "name", reason: "is given twice" });
        // Ignored fields are skipped without recursion; nesting elsewhere hits serde_json's
        // recursion limit. Neither can overflow the stack.
        let deep = "[".repeat(4000) + &"]".repeat(4000);
        let ignored = format!(r#"{{"x":{deep},"n":"pageview","u":"https://a.com","d":"a.com"}}"#);
        assert!(parse(&ignored).is_ok());
        let in_props = format!(r#"{{"p":{{"a":{deep}}},"n":"pageview","u":"https://a.com","d":"a.com"}}"#);
        assert_eq!(parse(&in_props).unwrap_err().code(), "invalid_json");
    }

    #[test]
    fn body_limit() {
        let padding = "x".repeat(MAX_BODY_BYTES);
        let error = with("pad", Value::from(padding)).unwrap_err();
        assert!(matches!(error, RequestError::BodyTooLarge { max: MAX_BODY_BYTES, .. }));
        let mut map = minimal();
        let base = serde_json::to_vec(&map).unwrap().len();
        map.insert("w".into(), Value::from("x".repeat(MAX_BODY_BYTES - base - 7)));
        let body = serde_json::to_vec(&map).unwrap();
        assert_eq!(body.len(), MAX_BODY_BYTES);
        assert!(parse_payload(&body).is_ok());
    }

    #[test]
    fn field_limits() {
        assert!(with("name", Value::from("n".repeat(MAX_EVENT_NAME_LEN))).is_ok());
        let error = with("name", Value::from("n".repeat(MAX_EVENT_NAME_LEN + 1))).unwrap_err();
        assert_eq!(error, RequestError::TooLong { field: "name", len: 121, max: 120 });
        let long_url = format!("https://a.com/{}", "p".repeat(MAX_URL_LEN));
        assert_eq!(with("url", Value::from(long_url)).unwrap_err().field(), Some("url"));
        let long_domain = format!("{}.com", "d".repeat(MAX_DOMAIN_LEN));
        assert_eq!(with("domain", Value::from(long_domain)).unwrap_err().code(), "field_too_long");
    }

    #[test]
    fn domain_lists() {
        let payload = with("domain", Value::from(" A.com, b.com.,,a.com ,c.com")).unwrap();
        assert_eq!(payload.domains, ["a.com", "b.com", "c.com"]);
        assert_eq!(with("domain", Value::from(" , ")).unwrap_err().field(), Some("domain"));
        let many = (0..=MAX_DOMAINS_PER_EVENT).map(|i| format!("s{i}.com")).collect::<Vec<_>>().join(",");
        assert_eq!(with("domain", Value::from(many)).unwrap_err().code(), "invalid_field");
    }

    #[test]
    fn props_values() {
        let payload =
            parse(r#"{"n":"e","u":"https://a.com","d":"a.com","p":{"s":"x","b":true,"n":42,"f":1.5,"null":null,"empty":"","neg":-3}}"#)
                .unwrap();
        let keys: Vec<_> = payload.props.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(keys, ["s=x", "b=true", "n=42", "f=1.5", "neg=-3"]);
        let ordered = parse(r#"{"n":"e","u":"https://a.com","d":"a.com","p":{"z":"1","a":"2","z":"3"}}"#);
        assert_eq!(ordered.unwrap().props, vec![("z".into(), "3".into()), ("a".into(), "2".into())]);
        for nested in [serde_json::json!({"a": {"b": 1}}), serde_json::json!({"a": [1]})] {
            assert_eq!(with("props", nested).unwrap_err(), PROPS_SHAPE);
        }
        for wrong in [Value::from(1), Value::from(true), serde_json::json!([1]), Value::from("[1]")] {
            assert_eq!(with("props", wrong).unwrap_err(), PROPS_SHAPE);
        }
        assert_eq!(with("props", Value::from("\"{}\"")).unwrap_err(), PROPS_SHAPE, "no double encoding");
        assert_eq!(with("props", Value::from("{not json")).unwrap_err(), PROPS_SHAPE);
        assert!(with("props", Value::from("")).unwrap().props.is_empty());
        assert!(with("props", Value::Null).unwrap().props.is_empty());
    }

    #[test]
    fn props_limits() {
        let props =
            |count: usize| Value::Object((0..count).map(|i| (format!("k{i}"), Value::from("v"))).collect());
        assert_eq!(with("props", props(MAX_PROPS)).unwrap().props.len(), MAX_PROPS);
        assert_eq!(
            with("props", props(MAX_PROPS + 5)).unwrap_err(),
            RequestError::TooManyProps { count: MAX_PROPS + 5, max: MAX_PROPS }
        );
        let key = serde_json::json!({ "k".repeat(MAX_PROP_KEY_LEN + 1): "v" });
        assert_eq!(with("props", key).unwrap_err().field(), Some("props.key"));
        let value = serde_json::json!({ "k": "v".repeat(MAX_PROP_VALUE_LEN + 1) });
        assert_eq!(with("props", value).unwrap_err().field(), Some("props.value"));
        let at_limit = serde_json::json!({ "k".repeat(MAX_PROP_KEY_LEN): "v".repeat(MAX_PROP_VALUE_LEN) });
        assert!(with("props", at_limit).is_ok());
        assert_eq!(with("props", serde_json::json!({"": "v"})).unwrap_err().field(), Some("props.key"));
    }

    #[test]
    fn flags_must_be_booleans_or_numbers() {
        assert!(with("h", Value::from(true)).unwrap().hash_mode);
        assert!(!with("i", Value::from(0)).unwrap().interactive);
        assert_eq!(with("sd", Value::from(250)).unwrap().scroll_depth, Some(100));
        assert_eq!(with("e", Value::from(679)).unwrap().engagement_ms, Some(679));
        assert_eq!(with("e", Value::from(-1)).unwrap_err().field(), Some("engagement_time"));
        assert_eq!(with("sd", Value::from("x")).unwrap_err().field(), Some("scroll_depth"));
        assert_eq!(with("i", Value::from("false")).unwrap_err().field(), Some("interactive"));
        assert_eq!(with("referrer", Value::from(1)).unwrap_err().field(), Some("referrer"));
    }
}
