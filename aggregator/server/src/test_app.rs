//! [`TestApp`]: the real router on a fresh data directory, for handler tests through
//! `oneshot`. Each test builds its own (`TestApp::new().with_site(..).with_user(..)`), with a
//! clock of its own that it moves by hand.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use hitkeep_ingest::ManualClock;
use hitkeep_store::{InstanceRole, SiteRole, Store, TokenScope, TokenSites};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::auth::secret::{SecretKind, digest};
use crate::auth::{Auth, AuthSettings};
use crate::state::AppState;

/// The time tests start at (2026-01-01).
pub const START_MS: i64 = 1_767_225_600_000;

/// A Hitkeep app on a temporary data directory.
#[derive(Debug)]
pub struct TestApp {
    _dir: tempfile::TempDir,
    /// Its state (store, auth).
    pub state: AppState,
    /// Its clock.
    pub clock: ManualClock,
    users: HashMap<String, u32>,
}

impl Default for TestApp {
    fn default() -> Self {
        Self::new()
    }
}

impl TestApp {
    /// An empty instance: no site, no account.
    pub fn new() -> Self {
        Self::with_settings(AuthSettings::default())
    }

    /// An empty instance with these auth settings.
    pub fn with_settings(settings: AuthSettings) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open_dir(dir.path()).unwrap());
        let clock = ManualClock::new(START_MS);
        let mut state = AppState::offline(store, dir.path(), Arc::new(clock.clone())).unwrap();
        let sealer = crate::auth::sealing::SecretBox::open_dir(dir.path()).unwrap();
        state.auth = Arc::new(Auth::new(settings, Arc::new(clock.clone()), sealer));
        Self { _dir: dir, state, clock, users: HashMap::new() }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Adds a site.
    pub fn with_site(self, domain: &str) -> Self {
        self.store().add_site(domain, "UTC").unwrap();
        self.state.auth.forget();
        self
    }

    /// Adds an account with this password, instance role and site roles.
    pub fn with_user(mut self, email: &str, role: InstanceRole, sites: &[(&str, SiteRole)]) -> Self {
        let hash = crate::auth::password::hash(&password_of(email));
        let user = self.store().add_user(email, "", Some(&hash), role, START_MS).unwrap();
        for (domain, site_role) in sites {
            let site = self.store().site(domain).unwrap();
            self.store().set_site_member(site.id, user.id, *site_role, START_MS).unwrap();
        }
        self.users.insert(email.to_owned(), user.id);
        self.state.auth.forget();
        self
    }

    /// The account id of a user added with [`TestApp::with_user`].
    pub fn user_id(&self, email: &str) -> u32 {
        self.users[email]
    }

    /// Opens a session for a user directly in the store; its cookie header value.
    pub fn session(&self, email: &str) -> String {
        let secret = SecretKind::Session.generate();
        let now = self.state.now_ms();
        let max = self.state.auth.settings.session_max_ms;
        self.store()
            .add_session(&digest(&secret), self.users[email], "password", "test", now, now + max)
            .unwrap();
        format!("hitkeep_session={secret}")
    }

    /// Makes an API token; its secret.
    pub fn token(
        &self,
        name: &str,
        owner: Option<&str>,
        scope: TokenScope,
        sites: &[&str],
        expires_at_ms: Option<i64>,
    ) -> String {
        let secret = SecretKind::ApiToken.generate();
        let sites = if sites.is_empty() {
            TokenSites::All
        } else {
            TokenSites::Only(sites.iter().map(|domain| self.store().site(domain).unwrap().id).collect())
        };
        let owner = owner.map(|email| self.users[email]);
        self.store()
            .add_api_token(name, &digest(&secret), owner, scope, &sites, self.state.now_ms(), expires_at_ms)
            .unwrap();
        secret
    }

    /// Sends mail to `smtp` (links start with `http://stats.test`).
    pub fn with_mailer(mut self, smtp: &SmtpSink) -> Self {
        let settings = crate::mail::MailSettings {
            host: "127.0.0.1".into(),
            port: smtp.port,
            tls: crate::mail::SmtpTls::None,
            credentials: None,
            from: "Hitkeep <hitkeep@stats.test>".into(),
        };
        self.state.mailer = Some(crate::mail::Mailer::new(&settings, "http://stats.test".into()).unwrap());
        self
    }

    /// The public router.
    pub fn router(&self) -> Router {
        crate::app::app(self.state.clone())
    }

    /// A request to the public router.
    pub fn request(&self, method: Method, path: &str) -> TestRequest {
        TestRequest {
            router: self.router(),
            builder: Request::builder().method(method).uri(path).header(header::HOST, "127.0.0.1:8080"),
            body: Body::empty(),
            peer: "203.0.113.10:40000".parse().unwrap(),
        }
    }
}

/// A header map of `(name, value)` pairs, names repeated as given (for unit tests of
/// header parsing).
pub fn header_map(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, axum::http::HeaderValue::from_str(value).expect("a valid header value"));
    }
    map
}

/// Every test user's password: derived from the address, long enough.
pub fn password_of(email: &str) -> String {
    format!("pw-{email}-long enough")
}

/// A request being built.
#[derive(Debug)]
pub struct TestRequest {
    router: Router,
    builder: axum::http::request::Builder,
    body: Body,
    peer: SocketAddr,
}

impl TestRequest {
    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    /// Sends the session cookie (as the browser's own page would: same origin).
    pub fn cookie(self, cookie: &str) -> Self {
        self.header("cookie", cookie).header("sec-fetch-site", "same-origin")
    }

    /// Sends `Authorization: Bearer`.
    pub fn bearer(self, secret: &str) -> Self {
        self.header("authorization", &format!("Bearer {secret}"))
    }

    /// A JSON body.
    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.builder = self.builder.header(header::CONTENT_TYPE, "application/json");
        self.body = Body::from(body.to_string());
        self
    }

    /// A body of this content type, as is.
    pub fn raw(mut self, content_type: &str, body: &str) -> Self {
        self.builder = self.builder.header(header::CONTENT_TYPE, content_type);
        self.body = Body::from(body.to_owned());
        self
    }

    /// A form body.
    pub fn form(mut self, body: &str) -> Self {
        self.builder = self.builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        self.body = Body::from(body.to_owned());
        self
    }

    /// From another client address.
    pub fn from(mut self, peer: &str) -> Self {
        self.peer = peer.parse().unwrap();
        self
    }

    /// Sends it.
    pub async fn send(self) -> TestResponse {
        let mut request = self.builder.body(self.body).unwrap();
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let response = self.router.oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        TestResponse { status, headers, body: bytes.to_vec() }
    }
}

/// An answer.
#[derive(Debug)]
pub struct TestResponse {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Vec<u8>,
}

impl TestResponse {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    /// The error code of an error answer.
    pub fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or("").to_owned()
    }

    /// The session cookie set by this answer, as a `cookie` header value.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|value| value.contains("hitkeep_session=hks_"))
            .and_then(|value| value.split(';').next())
            .map(str::to_owned)
    }

    /// Status and code, for asserting both at once.
    pub fn status_code(&self) -> (u16, String) {
        (self.status.as_u16(), if self.status.is_success() { String::new() } else { self.code() })
    }
}

/// A real SMTP server for tests: Python's `aiosmtpd` on a free loopback port, storing what
/// it receives in a Maildir (scripts/test.sh installs it).
#[derive(Debug)]
pub struct SmtpSink {
    child: std::process::Child,
    /// Its port.
    pub port: u16,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    /// Starts one and waits until it takes connections.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let maildir = dir.path().join("mail");
        let child = std::process::Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(&maildir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 runs (scripts/test.sh installs aiosmtpd)");
        let sink = Self { child, port, dir };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "aiosmtpd did not start (pip install aiosmtpd)");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        sink
    }

    /// The messages received so far, oldest first, with quoted-printable soft breaks undone.
    pub fn messages(&self) -> Vec<String> {
        let new = self.dir.path().join("mail").join("new");
        let mut files: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(&new)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| {
                        let modified = entry.metadata().and_then(|meta| meta.modified()).unwrap();
                        (modified, std::fs::read_to_string(entry.path()).unwrap())
                    })
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
            .into_iter()
            .map(|(_, text)| text.replace("=\r\n", "").replace("=\n", "").replace("=3D", "="))
            .collect()
    }

    /// Waits (up to 20 s) until at least `count` messages arrived; all of them.
    /// (Mail goes out from a task of the test's runtime, so this waits without blocking it.)
    pub async fn wait_for(&self, count: usize) -> Vec<String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(std::time::Instant::now() < deadline, "{} of {count} messages arrived", messages.len());
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
