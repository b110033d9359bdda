//! URL normalizer: collapses the parts of paths that identify one object (a numeric id, a
//! UUID, a hash, a random token) and configured routes and patterns into placeholders, so
//! that `/users/4711/orders/9f86d081884c7d659a2feaa0c55ad015` is counted as
//! `/users/:id/orders/:hash` and the pages report shows pages rather than objects.
//!
//! Settings (all optional):
//!
//! ```json
//! {
//!   "routes": ["/blog/:slug", "/docs/*"],
//!   "patterns": [{"match": "^/p/[^/]+-(\\d+)$", "replace": "/p/:product"}],
//!   "collapse": {"numeric": true, "uuid": true, "hash": true, "token": true},
//!   "placeholders": {"numeric": ":id", "uuid": ":uuid", "hash": ":hash", "token": ":token"},
//!   "lowercase": false,
//!   "strip_trailing_slash": false
//! }
//! ```
//!
//! In order: the path is lower-cased and its trailing slash removed (when asked); the first
//! `route` that matches replaces the whole path by the route itself (`:name` matches one
//! segment, a final `*` the rest) and ends processing; otherwise each `pattern` (a regular
//! expression, with `$1`-style groups in `replace`) is applied in turn, and then each segment
//! that is a number, a UUID, a hash (16 or more hex digits) or a token (16 or more letters
//! and digits, mixed like random ids are) becomes its placeholder.

use hitkeep_plugin_sdk::limits::MAX_PATH_LEN;
use hitkeep_plugin_sdk::{Event, Plugin, Verdict, export_plugin};
use regex::Regex;
use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Settings {
    routes: Vec<String>,
    patterns: Vec<PatternSetting>,
    collapse: Collapse,
    placeholders: Placeholders,
    lowercase: bool,
    strip_trailing_slash: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatternSetting {
    #[serde(rename = "match")]
    pattern: String,
    replace: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Collapse {
    numeric: bool,
    uuid: bool,
    hash: bool,
    token: bool,
}

impl Default for Collapse {
    fn default() -> Self {
        Self { numeric: true, uuid: true, hash: true, token: true }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Placeholders {
    numeric: String,
    uuid: String,
    hash: String,
    token: String,
}

impl Default for Placeholders {
    fn default() -> Self {
        Self { numeric: ":id".into(), uuid: ":uuid".into(), hash: ":hash".into(), token: ":token".into() }
    }
}

/// One segment of a route.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RoutePart {
    Literal(String),
    /// `:name`: any one non-empty segment.
    Param,
    /// A final `*`: the rest of the path, possibly nothing.
    Rest,
}

#[derive(Debug)]
struct Route {
    template: String,
    parts: Vec<RoutePart>,
}

impl Route {
    fn parse(template: &str) -> Result<Self, String> {
        if !template.starts_with('/') {
            return Err(format!("route `{template}` must start with `/`"));
        }
        if template.len() > MAX_PATH_LEN {
            return Err(format!("route `{template}` is longer than a path may be"));
        }
        let segments: Vec<&str> = template[1..].split('/').collect();
        let mut parts = Vec::with_capacity(segments.len());
        for (index, segment) in segments.iter().enumerate() {
            parts.push(match *segment {
                "*" if index + 1 == segments.len() => RoutePart::Rest,
                "*" => return Err(format!("route `{template}`: `*` may only end a route")),
                param if param.starts_with(':') && param.len() > 1 => RoutePart::Param,
                literal => RoutePart::Literal(literal.to_string()),
            });
        }
        Ok(Self { template: template.to_string(), parts })
    }

    fn matches(&self, path: &str) -> bool {
        let mut segments = path[1..].split('/');
        for part in &self.parts {
            match part {
                RoutePart::Rest => return true,
                RoutePart::Param => match segments.next() {
                    Some(segment) if !segment.is_empty() => {}
                    _ => return false,
                },
                RoutePart::Literal(literal) => {
                    if segments.next() != Some(literal.as_str()) {
                        return false;
                    }
                }
            }
        }
        segments.next().is_none()
    }
}

/// The URL normalizer.
#[derive(Debug)]
pub struct UrlNormalizer {
    routes: Vec<Route>,
    patterns: Vec<(Regex, String)>,
    collapse: Collapse,
    placeholders: Placeholders,
    lowercase: bool,
    strip_trailing_slash: bool,
}

impl UrlNormalizer {
    /// The normalized form of `path` (which starts with `/`).
    pub fn normalize(&self, path: &str) -> String {
        let mut path = if self.lowercase { path.to_lowercase() } else { path.to_string() };
        if self.strip_trailing_slash {
            while path.len() > 1 && path.ends_with('/') {
                path.pop();
            }
        }
        if let Some(route) = self.routes.iter().find(|route| route.matches(&path)) {
            return route.template.clone();
        }
        for (pattern, replace) in &self.patterns {
            if pattern.is_match(&path) {
                path = pattern.replace_all(&path, replace.as_str()).into_owned();
            }
        }
        let mut out = String::with_capacity(path.len());
        for (index, segment) in path.split('/').enumerate() {
            if index > 0 {
                out.push('/');
            }
            out.push_str(self.placeholder(segment).unwrap_or(segment));
        }
        out
    }

    fn placeholder(&self, segment: &str) -> Option<&str> {
        let Placeholders { numeric, uuid, hash, token } = &self.placeholders;
        if segment.is_empty() || segment.starts_with(':') {
            return None;
        }
        if self.collapse.numeric && segment.bytes().all(|b| b.is_ascii_digit()) {
            return Some(numeric);
        }
        if self.collapse.uuid && is_uuid(segment) {
            return Some(uuid);
        }
        if self.collapse.hash && segment.len() >= 16 && segment.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Some(hash);
        }
        if self.collapse.token && is_token(segment) {
            return Some(token);
        }
        None
    }
}

fn is_uuid(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(index, b)| match index {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// 16 or more letters and digits, at least two of each, switching between letters and
/// digits at least four times: random ids (`aZ3kq9PLm2vX7tQ8`) are, words and slugs with a
/// year in them (`release-notes-2024`, `ubuntu2404lts`) are not.
fn is_token(segment: &str) -> bool {
    if segment.len() < 16 || !segment.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let digits = segment.bytes().filter(u8::is_ascii_digit).count();
    let letters = segment.len() - digits;
    let switches = segment
        .as_bytes()
        .windows(2)
        .filter(|pair| pair[0].is_ascii_digit() != pair[1].is_ascii_digit())
        .count();
    digits >= 2 && letters >= 2 && switches >= 4
}

impl Plugin for UrlNormalizer {
    fn configure(settings: &str) -> Result<Self, String> {
        let settings: Settings =
            serde_json::from_str(settings).map_err(|error| format!("settings: {error}"))?;
        let routes =
            settings.routes.iter().map(|route| Route::parse(route)).collect::<Result<Vec<_>, _>>()?;
        let patterns = settings
            .patterns
            .into_iter()
            .map(|PatternSetting { pattern, replace }| {
                Regex::new(&pattern)
                    .map(|regex| (regex, replace))
                    .map_err(|error| format!("pattern `{pattern}`: {error}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for placeholder in [
            &settings.placeholders.numeric,
            &settings.placeholders.uuid,
            &settings.placeholders.hash,
            &settings.placeholders.token,
        ] {
            if placeholder.is_empty() || placeholder.contains('/') {
                return Err(format!("placeholder `{placeholder}` must be non-empty and hold no `/`"));
            }
        }
        Ok(Self {
            routes,
            patterns,
            collapse: settings.collapse,
            placeholders: settings.placeholders,
            lowercase: settings.lowercase,
            strip_trailing_slash: settings.strip_trailing_slash,
        })
    }

    fn enrich(&mut self, event: &mut Event) -> Verdict {
        let normalized = self.normalize(&event.path);
        // A pattern could produce something that is no longer a path; leave those alone.
        if normalized == event.path || !normalized.starts_with('/') || normalized.len() > MAX_PATH_LEN {
            return Verdict::Unchanged;
        }
        event.path = normalized;
        Verdict::Changed
    }
}

export_plugin!(UrlNormalizer);

#[cfg(test)]
mod tests {
    use super::*;
    use hitkeep_plugin_sdk::testing;

    fn normalizer(settings: &str) -> UrlNormalizer {
        UrlNormalizer::configure(settings).unwrap()
    }

    #[test]
    fn collapses_ids_uuids_hashes_and_tokens() {
        let n = normalizer("{}");
        for (path, expected) in [
            ("/users/4711", "/users/:id"),
            ("/users/4711/orders/9f86d081884c7d659a2feaa0c55ad015", "/users/:id/orders/:hash"),
            ("/orders/550e8400-e29b-41d4-a716-446655440000/items", "/orders/:uuid/items"),
            ("/invite/aZ3kq9PLm2vX7tQ8", "/invite/:token"),
            ("/commit/3f786850e387550fdab836ed7e6dc881de23001b", "/commit/:hash"),
            ("/", "/"),
            ("/users/", "/users/"),
        ] {
            assert_eq!(n.normalize(path), expected, "{path}");
        }
    }

    #[test]
    fn leaves_words_slugs_and_short_hex_alone() {
        let n = normalizer("{}");
        for path in [
            "/blog/release-notes-2024",
            "/pricing",
            "/docs/ubuntu2404lts",
            "/colors/deadbeef",
            "/a/facade",
            "/downloads/v2",
            "/blog/how-we-count-visitors-without-cookies",
        ] {
            assert_eq!(n.normalize(path), path);
        }
    }

    #[test]
    fn routes_replace_the_whole_path_and_win() {
        let n = normalizer(r#"{"routes": ["/blog/:slug", "/docs/*", "/shop/:category/:product"]}"#);
        assert_eq!(n.normalize("/blog/how-we-count"), "/blog/:slug");
        assert_eq!(n.normalize("/blog"), "/blog");
        assert_eq!(n.normalize("/blog/a/b"), "/blog/a/b");
        assert_eq!(n.normalize("/docs"), "/docs/*");
        assert_eq!(n.normalize("/docs/api/v1/4711"), "/docs/*");
        assert_eq!(n.normalize("/shop/shirts/blue-1234"), "/shop/:category/:product");
        assert_eq!(n.normalize("/shop/shirts"), "/shop/shirts");
    }

    #[test]
    fn patterns_run_in_order_with_groups() {
        let n = normalizer(
            r#"{"patterns": [
                {"match": "^/p/[^/]+-(\\d+)$", "replace": "/p/:product"},
                {"match": "/(de|fr|en)/", "replace": "/:lang/"}
            ]}"#,
        );
        assert_eq!(n.normalize("/p/blue-shirt-12345"), "/p/:product");
        assert_eq!(n.normalize("/de/kontakt"), "/:lang/kontakt");
        assert_eq!(n.normalize("/en/users/42"), "/:lang/users/:id");
    }

    #[test]
    fn options_lowercase_trailing_slash_placeholders_and_switches() {
        let n = normalizer(
            r#"{"lowercase": true, "strip_trailing_slash": true,
                "placeholders": {"numeric": "{id}"}, "collapse": {"hash": false, "token": false}}"#,
        );
        assert_eq!(n.normalize("/Users/42/"), "/users/{id}");
        assert_eq!(n.normalize("/c/9f86d081884c7d659a2feaa0c55ad015"), "/c/9f86d081884c7d659a2feaa0c55ad015");
        assert_eq!(n.normalize("/"), "/");
    }

    #[test]
    fn bad_settings_are_refused() {
        for settings in [
            r#"{"routes": ["blog/:slug"]}"#,
            r#"{"routes": ["/a/*/b"]}"#,
            r#"{"patterns": [{"match": "(", "replace": ""}]}"#,
            r#"{"placeholders": {"numeric": "a/b"}}"#,
            r#"{"rutes": []}"#,
            "not json",
        ] {
            assert!(UrlNormalizer::configure(settings).is_err(), "{settings}");
        }
    }

    #[test]
    fn enrich_reports_changes_only() {
        let mut n = normalizer("{}");
        let mut event = testing::pageview("/users/42");
        assert_eq!(n.enrich(&mut event), Verdict::Changed);
        assert_eq!(event.path, "/users/:id");
        assert_eq!(n.enrich(&mut event), Verdict::Unchanged);
        let mut broken = normalizer(r#"{"patterns": [{"match": "^/", "replace": ""}]}"#);
        let mut event = testing::pageview("/x");
        assert_eq!(broken.enrich(&mut event), Verdict::Unchanged);
        assert_eq!(event.path, "/x");
    }
}
