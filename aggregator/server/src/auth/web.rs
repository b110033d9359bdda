//! The browser side of authentication: the session cookie, the client's address, cross-site
//! request checks and the security headers of every answer.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::state::AppState;

/// The session cookie's name over plain HTTP.
pub const SESSION_COOKIE: &str = "hitkeep_session";
/// Its name behind TLS: the `__Host-` prefix makes browsers refuse it unless it is `Secure`,
/// host-only and for `/`, so no subdomain can plant or read it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-hitkeep_session";

/// The session secret a request carries, under either name.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, SECURE_SESSION_COOKIE).or_else(|| cookie(headers, SESSION_COOKIE))
}

/// The value of the cookie `name` the request carries.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value.trim())
}

/// The `Set-Cookie` of a new session: `HttpOnly` (no script reads it), `SameSite=Lax` (not
/// sent on cross-site posts), `Secure` behind TLS, for the session's absolute lifetime.
pub fn session_cookie_header(secret: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let value = if secure {
        format!(
            "{SECURE_SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age={max_age_secs}"
        )
    } else {
        format!("{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}")
    };
    HeaderValue::from_str(&value).expect("session cookies are visible ASCII")
}

/// `Set-Cookie` values that delete the session cookie under both names.
pub fn expired_session_cookies() -> [HeaderValue; 2] {
    [
        HeaderValue::from_static("hitkeep_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
        HeaderValue::from_static(
            "__Host-hitkeep_session=; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=0",
        ),
    ]
}

/// The client's address: the TCP peer, or, when the peer is a trusted proxy, the last
/// address in `X-Forwarded-For` that is not one (what the proxy chain saw).
pub fn client_address(parts: &Parts, trusted_proxies: &[ipnet::IpNet]) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([127, 0, 0, 1]), |ConnectInfo(address)| address.ip());
    let trusted = |address: &IpAddr| trusted_proxies.iter().any(|range| range.contains(address));
    if !trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|entry| entry.trim().parse().ok())
        .collect();
    forwarded.into_iter().rev().find(|address| !trusted(address)).unwrap_or(peer)
}

/// A coarse label of the browser for the session list ("Firefox on Linux"): never the user
/// agent itself.
pub fn client_label(headers: &HeaderMap) -> String {
    let user_agent = headers.get(header::USER_AGENT).and_then(|value| value.to_str().ok()).unwrap_or("");
    let info = hitkeep_collector_core::classify_user_agent(user_agent);
    match (info.browser, info.os) {
        (Some(browser), Some(os)) => format!("{browser} on {os}"),
        (Some(browser), None) => browser.to_owned(),
        (None, Some(os)) => format!("a browser on {os}"),
        (None, None) => "an unknown client".to_owned(),
    }
}

/// Whether a request comes from this site's own pages, judged by `Sec-Fetch-Site` (every
/// current browser sends it) or else `Origin`. `None` when it carries neither (a program,
/// not a browser).
pub fn same_origin(headers: &HeaderMap, public_origin: Option<&str>) -> Option<bool> {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|value| value.to_str().ok()) {
        return Some(matches!(site, "same-origin" | "none"));
    }
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    if origin == "null" {
        return Some(false);
    }
    Some(match public_origin {
        Some(expected) => origin.eq_ignore_ascii_case(expected.trim_end_matches('/')),
        None => {
            let host = headers.get(header::HOST).and_then(|value| value.to_str().ok()).unwrap_or("");
            origin.split_once("://").is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
        }
    })
}

/// Refuses cross-site writes made with a browser's cookies (CSRF), on top of `SameSite`:
/// a `POST`, `PUT`, `PATCH` or `DELETE` that carries the session cookie, or goes to the
/// sign-in routes, must come from this site's own pages. Requests authenticated by a bearer
/// token alone are a program's and pass.
pub async fn csrf(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let unsafe_method = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let headers = request.headers();
    let cookie = session_cookie(headers).is_some();
    let sign_in_route = request.uri().path().starts_with("/api/auth/");
    let bearer_only = headers.contains_key(header::AUTHORIZATION) && !cookie;
    if unsafe_method && (cookie || sign_in_route) && !bearer_only {
        let verdict = same_origin(headers, state.auth.settings.public_origin.as_deref());
        // Without either header it is not a browser, which is what CSRF needs; but a cookie
        // sent by something that hides its origin is refused too.
        if verdict == Some(false) || (verdict.is_none() && cookie) {
            return AppError::forbidden(
                "cross_site_request",
                "cross-site requests may not change anything here",
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// The request budget of the auth routes, per client address.
pub async fn auth_rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let client = state.auth.client_address(&parts);
    if let Err(wait_ms) = state.auth.auth_limit.take(client, state.now_ms()) {
        return AppError::too_many(wait_ms).into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

/// The dashboard's content security policy: only this origin, no inline script, no frames.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The content security policy of an embed share link's page: the same, but any site may
/// frame it.
pub const EMBED_CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors *";

/// Marks an answer other sites may frame (an embed share link's page).
#[derive(Debug, Clone, Copy)]
pub struct Embeddable;

/// Security headers on every answer but the collector's (`/api/event`, `/hk.js`: loaded by
/// other sites, with the CORS headers the collector sets itself).
pub async fn security_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    let collector = path == "/api/event" || (path.starts_with("/hk.") && path.ends_with(".js"));
    let headers = response.headers_mut();
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    if collector {
        return response;
    }
    let embeddable = response.extensions().get::<Embeddable>().is_some();
    let headers = response.headers_mut();
    // A page may ask for less (a share link's page: `no-referrer`).
    headers.entry(header::REFERRER_POLICY).or_insert(HeaderValue::from_static("same-origin"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    headers
        .insert("permissions-policy", HeaderValue::from_static("camera=(), microphone=(), geolocation=()"));
    if embeddable {
        headers
            .insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(EMBED_CONTENT_SECURITY_POLICY));
    } else {
        headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
        if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
            headers
                .insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
        }
    }
    if state.auth.settings.secure {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_app::header_map as headers;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let map = headers(&[("cookie", "theme=dark; hitkeep_session=hks_abc ; x=1")]);
        assert_eq!(session_cookie(&map), Some("hks_abc"));
        let secure = headers(&[("cookie", "a=b"), ("cookie", "__Host-hitkeep_session=hks_def")]);
        assert_eq!(session_cookie(&secure), Some("hks_def"));
        assert_eq!(session_cookie(&headers(&[("cookie", "hitkeep_sessionx=1")])), None);
        let set = session_cookie_header("hks_x", 60, true);
        assert_eq!(set, "__Host-hitkeep_session=hks_x; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=60");
        assert!(!session_cookie_header("hks_x", 60, false).to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn same_origin_by_fetch_metadata_then_origin() {
        assert_eq!(same_origin(&headers(&[("sec-fetch-site", "same-origin")]), None), Some(true));
        assert_eq!(same_origin(&headers(&[("sec-fetch-site", "cross-site")]), None), Some(false));
        assert_eq!(same_origin(&headers(&[("sec-fetch-site", "same-site")]), None), Some(false));
        let local = headers(&[("origin", "http://127.0.0.1:8080"), ("host", "127.0.0.1:8080")]);
        assert_eq!(same_origin(&local, None), Some(true));
        let evil = headers(&[("origin", "https://evil.example"), ("host", "127.0.0.1:8080")]);
        assert_eq!(same_origin(&evil, None), Some(false));
        let public = headers(&[("origin", "https://stats.example.com")]);
        assert_eq!(same_origin(&public, Some("https://stats.example.com/")), Some(true));
        assert_eq!(same_origin(&headers(&[("origin", "null")]), None), Some(false));
        assert_eq!(same_origin(&headers(&[]), None), None);
    }

    #[test]
    fn client_addresses_come_from_trusted_proxies_only() {
        let parts = |peer: &str, forwarded: &str| {
            let mut request =
                axum::http::Request::builder().header("x-forwarded-for", forwarded).body(()).unwrap();
            request.extensions_mut().insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
            request.into_parts().0
        };
        let proxies = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            client_address(&parts("203.0.113.1:5", "198.51.100.1"), &proxies),
            "203.0.113.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_address(&parts("10.0.0.2:5", "198.51.100.1, 203.0.113.7, 10.0.0.3"), &proxies),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_address(&parts("10.0.0.2:5", "garbage"), &proxies),
            "10.0.0.2".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn client_labels_are_coarse() {
        let firefox = headers(&[(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        )]);
        assert_eq!(client_label(&firefox), "Firefox on Linux");
        assert_eq!(client_label(&headers(&[])), "an unknown client");
    }
}
