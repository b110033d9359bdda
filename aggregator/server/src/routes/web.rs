//! The dashboard (`web/`, built by Vite into `web/dist` and embedded with rust-embed): its
//! content-hashed files under `/static/`, and its `index.html` for the app's pages and for
//! any other page a browser asks for (with status 404; the app draws "no such page").
//!
//! `/static/*` files never change under their name, so they are cached for a year
//! (`immutable`) and compressed once (brotli, gzip), at their first request, and kept in
//! memory. `index.html` names the current files, so browsers revalidate it (`no-cache`,
//! with an ETag). Both go through the security headers of every answer: the built page
//! loads only `/static/` files (`script-src 'self'; style-src 'self'`), no inline code.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, LazyLock, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::auth::web::Embeddable;
use crate::error::AppError;
use crate::state::AppState;

/// The dashboard's build output, inside the binary (also in debug builds: `debug-embed`).
#[derive(rust_embed::Embed)]
#[folder = "../../web/dist"]
struct Dist;

/// `Cache-Control` of a content-hashed file.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Longest `/static/` path looked up; Vite's names are far shorter.
const MAX_FILE_NAME: usize = 200;
/// Most entries of an `Accept` or `Accept-Encoding` header read; the rest are ignored.
const MAX_HEADER_ENTRIES: usize = 32;
/// Most `If-None-Match` tags compared.
const MAX_ETAGS: usize = 16;

/// The app's pages: `index.html` with status 200.
const APP_PAGES: [&str; 8] =
    ["/", "/sites", "/sites/{*rest}", "/account", "/login", "/setup", "/invite", "/reset"];

/// The routes.
pub fn router() -> Router<AppState> {
    let mut router =
        Router::new().route("/static/{*file}", get(static_file)).route("/share/{code}", get(share_page));
    for path in APP_PAGES {
        router = router.route(path, get(app_page));
    }
    router
}

/// A file of `web/dist/static`, and its compressed forms once asked for.
#[derive(Debug)]
struct StaticFile {
    content_type: &'static str,
    /// The SHA-256 of the file (rust-embed computes it at build time), shortened.
    hash: String,
    identity: Bytes,
    encoded: OnceLock<Encoded>,
}

/// The compressed forms of a file, each kept only when smaller than the file.
#[derive(Debug)]
struct Encoded {
    brotli: Option<Bytes>,
    gzip: Option<Bytes>,
}

/// A content coding a response may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Coding {
    fn token(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
            Coding::Identity => "identity",
        }
    }
}

/// `index.html` and every file under `static/`, read from the embedded build once.
#[derive(Debug)]
struct Assets {
    index: Bytes,
    index_etag: String,
    files: HashMap<String, Arc<StaticFile>>,
}

static ASSETS: LazyLock<Assets> = LazyLock::new(Assets::load);

impl Assets {
    fn load() -> Self {
        let index_file =
            Dist::get("index.html").expect("web/dist/index.html is embedded (run `npm run build` in web/)");
        let index_etag = format!("\"{}\"", short_hash(&index_file.metadata.sha256_hash()));
        let mut files = HashMap::new();
        for name in Dist::iter() {
            let Some(file) = name.strip_prefix("static/") else { continue };
            let Some(embedded) = Dist::get(&name) else { continue };
            let static_file = StaticFile {
                content_type: content_type(file),
                hash: short_hash(&embedded.metadata.sha256_hash()),
                identity: bytes(embedded.data),
                encoded: OnceLock::new(),
            };
            files.insert(file.to_owned(), Arc::new(static_file));
        }
        Assets { index: bytes(index_file.data), index_etag, files }
    }
}

/// Embedded data as it is (with `debug-embed`, always borrowed from the binary).
fn bytes(data: Cow<'static, [u8]>) -> Bytes {
    match data {
        Cow::Borrowed(borrowed) => Bytes::from_static(borrowed),
        Cow::Owned(owned) => Bytes::from(owned),
    }
}

fn short_hash(digest: &[u8; 32]) -> String {
    digest[..16].iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The media type of a built file, by its extension.
fn content_type(name: &str) -> &'static str {
    let extension = name.rsplit_once('.').map_or("", |(_, extension)| extension);
    match extension.to_ascii_lowercase().as_str() {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "html" => "text/html; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// Whether a media type is worth compressing (text; images and fonts are compressed already).
fn compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || content_type.starts_with("application/json")
        || content_type.starts_with("image/svg")
        || content_type.starts_with("application/wasm")
}

impl StaticFile {
    fn encoded(&self) -> &Encoded {
        self.encoded.get_or_init(|| {
            if !compressible(self.content_type) {
                return Encoded { brotli: None, gzip: None };
            }
            let smaller = |bytes: Vec<u8>| (bytes.len() < self.identity.len()).then(|| Bytes::from(bytes));
            Encoded { brotli: smaller(brotli(&self.identity)), gzip: smaller(gzip(&self.identity)) }
        })
    }

    /// The body and ETag of the coding chosen for what the client accepts.
    fn representation(&self, accepted: &Accepted) -> (Coding, Bytes, String) {
        let encoded = self.encoded();
        let choices = [(Coding::Brotli, &encoded.brotli), (Coding::Gzip, &encoded.gzip)];
        for (coding, body) in choices {
            if let Some(body) = body
                && accepted.allows(coding)
            {
                return (coding, body.clone(), format!("\"{}-{}\"", self.hash, coding.token()));
            }
        }
        (Coding::Identity, self.identity.clone(), format!("\"{}\"", self.hash))
    }
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 3);
    let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
    let mut input = data;
    brotli::BrotliCompress(&mut input, &mut out, &params).expect("compressing into memory cannot fail");
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder =
        flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 3), flate2::Compression::best());
    encoder.write_all(data).expect("compressing into memory cannot fail");
    encoder.finish().expect("compressing into memory cannot fail")
}

/// What `Accept-Encoding` allows (RFC 9110 §12.5.3): codings with a q-value above zero, `*`
/// for the others; without the header, no coding.
#[derive(Debug, Default)]
struct Accepted {
    brotli: Option<bool>,
    gzip: Option<bool>,
    any: Option<bool>,
}

impl Accepted {
    fn of(headers: &HeaderMap) -> Self {
        let mut accepted = Accepted::default();
        let entries = headers
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .take(MAX_HEADER_ENTRIES);
        for entry in entries {
            let mut parts = entry.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let allowed = parts
                .filter_map(|parameter| parameter.trim().split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
                .is_none_or(|(_, q)| q.trim().parse::<f32>().is_ok_and(|q| q > 0.0));
            match coding.as_str() {
                "br" => accepted.brotli = Some(allowed),
                "gzip" | "x-gzip" => accepted.gzip = Some(allowed),
                "*" => accepted.any = Some(allowed),
                _ => {}
            }
        }
        accepted
    }

    fn allows(&self, coding: Coding) -> bool {
        let named = match coding {
            Coding::Brotli => self.brotli,
            Coding::Gzip => self.gzip,
            Coding::Identity => return true,
        };
        named.or(self.any).unwrap_or(false)
    }
}

/// Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110 §13.1.2 asks for GET).
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .take(MAX_ETAGS)
        .map(|tag| tag.trim())
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// `GET /static/{*file}`: a content-hashed file of the dashboard.
async fn static_file(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let found = (file.len() <= MAX_FILE_NAME).then(|| ASSETS.files.get(&file)).flatten();
    let Some(static_file) = found else {
        return AppError::not_found("no such file").into_response();
    };
    let (coding, body, etag) = static_file.representation(&Accepted::of(&headers));
    let mut response = if not_modified(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = body.into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(static_file.content_type));
        if coding != Coding::Identity {
            response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding.token()));
        }
        response
    };
    let response_headers = response.headers_mut();
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    response_headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response_headers.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex in quotes"));
    response
}

/// The app's `index.html`, with `status`; a `200` is revalidated by its ETag.
fn index_page(status: StatusCode, headers: &HeaderMap) -> Response {
    let assets = &*ASSETS;
    let etag = HeaderValue::from_str(&assets.index_etag).expect("hex in quotes");
    let mut response = if status == StatusCode::OK && not_modified(headers, &assets.index_etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = (status, assets.index.clone()).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        response
    };
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if status == StatusCode::OK {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// `GET` of one of the app's pages: `index.html`, whose script draws the page the path names.
async fn app_page(headers: HeaderMap) -> Response {
    index_page(StatusCode::OK, &headers)
}

/// `GET /share/{code}`: the app draws the shared dashboard. The status says whether the link
/// works (404 unknown or revoked, 410 expired); an embed link's page may be framed by any
/// site; the code, in the path, never leaves in a `Referer`.
async fn share_page(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (status, embed) = match state.auth.open_share_link(&state.store, &code).await {
        Ok(link) => (StatusCode::OK, link.embed),
        Err(error) if error.status().is_client_error() => (error.status(), false),
        Err(error) => return Err(error),
    };
    let mut response = index_page(status, &headers);
    response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if embed {
        response.extensions_mut().insert(Embeddable);
    }
    Ok(response)
}

/// The answer to a request no route took, when it is a browser asking for a page: `GET` or
/// `HEAD`, accepting `text/html`, outside the API. The app's `index.html` with status 404.
pub fn unknown_page(request: &Request) -> Option<Response> {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return None;
    }
    let path = request.uri().path();
    if path == "/api" || path.starts_with("/api/") || path.starts_with("/static/") {
        return None;
    }
    let wants_html = request
        .headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .take(MAX_HEADER_ENTRIES)
        .any(|range| range.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("text/html"));
    wants_html.then(|| {
        let mut page = index_page(StatusCode::NOT_FOUND, request.headers());
        page.headers_mut().insert(header::VARY, HeaderValue::from_static("accept"));
        page
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_app::header_map as headers;

    #[test]
    fn accept_encoding_is_read_with_its_q_values() {
        let browser = Accepted::of(&headers(&[("accept-encoding", "gzip, deflate, br, zstd")]));
        assert!(browser.allows(Coding::Brotli) && browser.allows(Coding::Gzip));
        let no_brotli = Accepted::of(&headers(&[("accept-encoding", "br;q=0, gzip;q=0.5")]));
        assert!(!no_brotli.allows(Coding::Brotli) && no_brotli.allows(Coding::Gzip));
        let star = Accepted::of(&headers(&[("accept-encoding", "*;q=0.1, gzip;q=0")]));
        assert!(star.allows(Coding::Brotli) && !star.allows(Coding::Gzip));
        let none = Accepted::of(&headers(&[]));
        assert!(!none.allows(Coding::Brotli) && !none.allows(Coding::Gzip) && none.allows(Coding::Identity));
        let garbage = Accepted::of(&headers(&[("accept-encoding", "br;q=nope, ;;;, gzip;q")]));
        assert!(!garbage.allows(Coding::Brotli) && garbage.allows(Coding::Gzip));
    }

    #[test]
    fn etags_match_weakly_and_by_star() {
        assert!(not_modified(&headers(&[("if-none-match", "\"a\", \"b\"")]), "\"b\""));
        assert!(not_modified(&headers(&[("if-none-match", "W/\"b\"")]), "\"b\""));
        assert!(not_modified(&headers(&[("if-none-match", "*")]), "\"b\""));
        assert!(!not_modified(&headers(&[("if-none-match", "\"c\"")]), "\"b\""));
        assert!(!not_modified(&headers(&[]), "\"b\""));
    }

    #[test]
    fn built_files_have_their_media_types() {
        assert_eq!(content_type("index-abc.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("index-abc.CSS"), "text/css; charset=utf-8");
        assert_eq!(content_type("font-abc.woff2"), "font/woff2");
        assert_eq!(content_type("no-extension"), "application/octet-stream");
        assert!(compressible(content_type("a.js")) && !compressible(content_type("a.png")));
    }

    #[test]
    fn the_embedded_build_has_its_page_and_files() {
        let assets = &*ASSETS;
        let index = std::str::from_utf8(&assets.index).unwrap();
        assert!(!assets.files.is_empty(), "web/dist/static has files");
        // Every file the page names is embedded.
        for reference in index.split("\"/static/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(assets.files.contains_key(name), "index.html names {name}, which is not embedded");
        }
        assert!(index.contains("/basic/login"), "the noscript link leads to the plain pages");
    }
}
