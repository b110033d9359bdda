//! The component's settings, read and checked once per request.
//!
//! Each setting has an environment variable's name ([`env`]) and a key in the host's
//! `wasi:config/store` ([`config_key`]: the name without `HITKEEP_`, in lower case, so
//! `sink_url` for `HITKEEP_SINK_URL`). The store wins: it is where Spin puts its variables
//! and `wasmtime serve -Sconfig-var` its values; the environment serves `spin up -e`,
//! `wasmtime serve --env` and our own hosts, which pass the per-request edge configuration
//! that way.

use std::fmt;
use std::str::FromStr;

use hitkeep_protocol::limits::MAX_ID_LEN;

/// The settings the component reads, by their environment variables' names.
pub mod env {
    /// The edge configuration (sites and salts) as JSON, set by our host per request.
    pub const EDGE_CONFIG: &str = "HITKEEP_EDGE_CONFIG";
    /// Where to fetch the configuration when [`EDGE_CONFIG`] is absent (Spin).
    pub const CONFIG_URL: &str = "HITKEEP_CONFIG_URL";
    /// Where accepted hits are posted as one batch.
    pub const SINK_URL: &str = "HITKEEP_SINK_URL";
    /// Bearer token for the configuration and sink requests.
    pub const EDGE_TOKEN: &str = "HITKEEP_EDGE_TOKEN";
    /// The `edge` name written into batches.
    pub const EDGE_NAME: &str = "HITKEEP_EDGE_NAME";
    /// A CDN's country header to read (`cf-ipcountry`), when the host sets no country.
    pub const GEO_COUNTRY_HEADER: &str = "HITKEEP_GEO_COUNTRY_HEADER";
    /// `false` when the component is reachable without a host that strips client-sent
    /// `x-hitkeep-*` headers (Spin): then they are ignored. Default `true`.
    pub const TRUST_HOST_HEADERS: &str = "HITKEEP_TRUST_HOST_HEADERS";
    /// The secret our host presents in `x-hitkeep-group-key` to hand over several events in
    /// one request (`hitkeep_protocol::group`). Unset (Spin, `wasmtime serve`): the group
    /// route does not exist.
    pub const GROUP_KEY: &str = "HITKEEP_GROUP_KEY";
}

/// The `wasi:config/store` key of the setting whose environment variable is `name`.
pub fn config_key(name: &str) -> String {
    name.strip_prefix("HITKEEP_").unwrap_or(name).to_ascii_lowercase()
}

/// Where batches go when [`env::SINK_URL`] is not set: our host intercepts this authority
/// in-process, without touching the network.
pub const DEFAULT_SINK_URL: &str = "http://hitkeep-sink.internal/batch";

/// The batch `edge` name when [`env::EDGE_NAME`] is not set.
pub const DEFAULT_EDGE_NAME: &str = "collector";

/// A misconfigured host: the component answers 500 and logs this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// A URL variable is not `http://` or `https://` followed by a host.
    #[error("{var} is not an http(s) url with a host")]
    InvalidUrl {
        /// The variable.
        var: &'static str,
    },
    /// The edge name is not 1 to 64 characters of `[A-Za-z0-9._:-]`.
    #[error("{} must be 1 to {MAX_ID_LEN} characters of [A-Za-z0-9._:-]", env::EDGE_NAME)]
    InvalidEdgeName,
    /// A boolean variable is not `true`/`false`/`1`/`0`.
    #[error("{var} must be true or false")]
    InvalidFlag {
        /// The variable.
        var: &'static str,
    },
    /// The token cannot be sent in a header.
    #[error("{} has characters that cannot be sent in a header", env::EDGE_TOKEN)]
    InvalidToken,
}

/// The settings of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Name written into each batch's `edge` field.
    pub edge_name: String,
    /// Where batches are posted.
    pub sink: Endpoint,
    /// Where the configuration is fetched from, when it is not in the environment.
    pub config_url: Option<Endpoint>,
    /// Bearer token for outgoing requests.
    pub token: Option<Token>,
    /// Lower-cased name of a CDN country header to read.
    pub geo_country_header: Option<String>,
    /// Whether `x-hitkeep-*` request headers come from a host that strips client-sent ones.
    pub trust_host_headers: bool,
}

impl Settings {
    /// Reads the settings through `lookup` (the environment, in the component). Empty values
    /// count as absent.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let read = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let edge_name = read(env::EDGE_NAME).unwrap_or_else(|| DEFAULT_EDGE_NAME.to_owned());
        if !is_valid_edge_name(&edge_name) {
            return Err(SettingsError::InvalidEdgeName);
        }
        let endpoint = |var: &'static str| -> Result<Option<Endpoint>, SettingsError> {
            read(var).map(|url| url.parse().map_err(|()| SettingsError::InvalidUrl { var })).transpose()
        };
        let sink = match endpoint(env::SINK_URL)? {
            Some(sink) => sink,
            None => DEFAULT_SINK_URL.parse().expect("the default sink url is valid"),
        };
        let config_url = endpoint(env::CONFIG_URL)?;
        let token = read(env::EDGE_TOKEN).map(Token::new).transpose()?;
        let geo_country_header = read(env::GEO_COUNTRY_HEADER).map(|name| name.trim().to_ascii_lowercase());
        let trust_host_headers = match read(env::TRUST_HOST_HEADERS) {
            None => true,
            Some(flag) => {
                parse_flag(&flag).ok_or(SettingsError::InvalidFlag { var: env::TRUST_HOST_HEADERS })?
            }
        };
        Ok(Self { edge_name, sink, config_url, token, geo_country_header, trust_host_headers })
    }
}

fn parse_flag(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The rule of `hitkeep_protocol::Batch` for edge names.
fn is_valid_edge_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_ID_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// A bearer token. Its `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    fn new(token: String) -> Result<Self, SettingsError> {
        let token = token.trim().to_owned();
        // Visible ASCII only: anything else could split or corrupt the header.
        if token.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(token))
        } else {
            Err(SettingsError::InvalidToken)
        }
    }

    /// The `authorization` header value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("Token(..)")
    }
}

/// An `http` or `https` URL split the way `wasi:http` outgoing requests take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https` rather than `http`.
    pub https: bool,
    /// `host` or `host:port`.
    pub authority: String,
    /// From the first `/` (or `/` when the URL has no path), query string included.
    pub path_with_query: String,
}

impl FromStr for Endpoint {
    type Err = ();

    /// Accepts `http(s)://host[:port][/path][?query]`, without user info or fragment.
    fn from_str(url: &str) -> Result<Self, ()> {
        let url = url.trim();
        let (https, rest) = if let Some(rest) = strip_prefix_ignore_case(url, "https://") {
            (true, rest)
        } else if let Some(rest) = strip_prefix_ignore_case(url, "http://") {
            (false, rest)
        } else {
            return Err(());
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_with_query) = rest.split_at(split);
        let host_ok = !authority.is_empty() && !authority.starts_with(':');
        let chars_ok = |text: &str| text.bytes().all(|b| b.is_ascii_graphic());
        if !host_ok || authority.contains('@') || !chars_ok(authority) || !chars_ok(path_with_query) {
            return Err(());
        }
        if path_with_query.contains('#') {
            return Err(());
        }
        let path_with_query = match path_with_query {
            "" => "/".to_owned(),
            query if query.starts_with('?') => format!("/{query}"),
            path => path.to_owned(),
        };
        Ok(Self { https, authority: authority.to_owned(), path_with_query })
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

impl fmt::Display for Endpoint {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(formatter, "{scheme}://{}{}", self.authority, self.path_with_query)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let vars: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_env(|name| vars.get(name).cloned())
    }

    #[test]
    fn config_keys_are_the_variable_names_spin_allows() {
        assert_eq!(config_key(env::SINK_URL), "sink_url");
        assert_eq!(config_key(env::CONFIG_URL), "config_url");
        assert_eq!(config_key(env::EDGE_TOKEN), "edge_token");
        assert_eq!(config_key(env::TRUST_HOST_HEADERS), "trust_host_headers");
        for name in [env::EDGE_CONFIG, env::EDGE_NAME, env::GEO_COUNTRY_HEADER, env::GROUP_KEY] {
            let key = config_key(name);
            // Spin's variable names: lower-case letters, digits and underscores.
            assert!(key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'), "{key}");
        }
    }

    #[test]
    fn defaults_work_without_any_variable() {
        let settings = settings(&[]).unwrap();
        assert_eq!(settings.edge_name, "collector");
        assert_eq!(settings.sink.to_string(), DEFAULT_SINK_URL);
        assert_eq!(settings.sink.authority, "hitkeep-sink.internal");
        assert_eq!(settings.config_url, None);
        assert_eq!(settings.token, None);
        assert!(settings.trust_host_headers);
    }

    #[test]
    fn reads_every_variable() {
        let settings = settings(&[
            (env::EDGE_NAME, "fra-1"),
            (env::SINK_URL, "https://hk.example.com:8443/api/edge/batch"),
            (env::CONFIG_URL, "https://hk.example.com:8443/api/edge/config"),
            (env::EDGE_TOKEN, " hk_secret "),
            (env::GEO_COUNTRY_HEADER, "CF-IPCountry"),
            (env::TRUST_HOST_HEADERS, "false"),
        ])
        .unwrap();
        assert_eq!(settings.edge_name, "fra-1");
        assert!(settings.sink.https);
        assert_eq!(settings.sink.authority, "hk.example.com:8443");
        assert_eq!(settings.sink.path_with_query, "/api/edge/batch");
        assert_eq!(settings.config_url.unwrap().path_with_query, "/api/edge/config");
        assert_eq!(settings.token.as_ref().unwrap().bearer(), "Bearer hk_secret");
        assert_eq!(format!("{:?}", settings.token), "Some(Token(..))");
        assert_eq!(settings.geo_country_header.as_deref(), Some("cf-ipcountry"));
        assert!(!settings.trust_host_headers);
    }

    #[test]
    fn empty_values_are_absent() {
        let settings =
            settings(&[(env::EDGE_TOKEN, ""), (env::SINK_URL, " "), (env::EDGE_NAME, "")]).unwrap();
        assert_eq!(settings.token, None);
        assert_eq!(settings.sink.to_string(), DEFAULT_SINK_URL);
        assert_eq!(settings.edge_name, DEFAULT_EDGE_NAME);
    }

    #[test]
    fn refuses_bad_values() {
        assert_eq!(settings(&[(env::EDGE_NAME, "my edge")]), Err(SettingsError::InvalidEdgeName));
        assert_eq!(settings(&[(env::EDGE_NAME, &"e".repeat(65))]), Err(SettingsError::InvalidEdgeName));
        for url in ["ftp://x/batch", "hk.example.com/batch", "http://", "http://:80/x", "http://u:p@host/x"] {
            assert_eq!(
                settings(&[(env::SINK_URL, url)]),
                Err(SettingsError::InvalidUrl { var: env::SINK_URL }),
                "{url}"
            );
        }
        assert_eq!(
            settings(&[(env::TRUST_HOST_HEADERS, "maybe")]),
            Err(SettingsError::InvalidFlag { var: env::TRUST_HOST_HEADERS })
        );
        assert_eq!(settings(&[(env::EDGE_TOKEN, "a\nb")]), Err(SettingsError::InvalidToken));
    }

    #[test]
    fn endpoints() {
        let plain: Endpoint = "HTTP://127.0.0.1:9000".parse().unwrap();
        assert_eq!(
            (plain.https, plain.authority.as_str(), plain.path_with_query.as_str()),
            (false, "127.0.0.1:9000", "/")
        );
        let query: Endpoint = "https://[::1]:8443?x=1".parse().unwrap();
        assert_eq!((query.authority.as_str(), query.path_with_query.as_str()), ("[::1]:8443", "/?x=1"));
        assert!("http://host/a#b".parse::<Endpoint>().is_err());
        assert!("http://ho st/".parse::<Endpoint>().is_err());
    }
}
