//! Accounts against the real binary: first-run setup through the printed link, password
//! sign-in, an authenticator app whose codes come from an independent implementation
//! (`pyotp`), recovery codes, API tokens and a password-protected share link; then the
//! database file, its WAL and the log are searched for every secret used on the way.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::*;

const EMAIL: &str = "owner@example.com";
const PASSWORD: &str = "a passphrase nobody guesses 7";
const SHARE_PASSWORD: &str = "the board's own passphrase";
const ORIGIN: &str = "http://localhost";

/// A TOTP code from pyotp: `offset_secs` from now.
fn pyotp(secret: &str, offset_secs: i64) -> String {
    let script = "import pyotp, sys, time; print(pyotp.TOTP(sys.argv[1]).at(time.time() + int(sys.argv[2])))";
    let output = Command::new("python3")
        .args(["-c", script, secret, &offset_secs.to_string()])
        .output()
        .expect("python3 runs (scripts/test.sh installs pyotp)");
    assert!(output.status.success(), "pyotp: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// The raw bytes of a base32 secret, decoded by Python (not by the code under test).
fn base32_bytes(secret: &str) -> Vec<u8> {
    let script = "import base64, sys; sys.stdout.write(base64.b32decode(sys.argv[1]).hex())";
    let output = Command::new("python3").args(["-c", script, secret]).output().unwrap();
    let hex = String::from_utf8(output.stdout).unwrap();
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

struct Client {
    addr: SocketAddr,
    cookie: Option<String>,
}

impl Client {
    fn call(&self, method: &str, path: &str, extra: &[(&str, &str)], body: serde_json::Value) -> Answer {
        let cookie = self.cookie.as_ref().map(|value| format!("hitkeep_session={value}"));
        let mut headers = vec![("Origin", ORIGIN), ("Content-Type", "application/json")];
        if let Some(cookie) = &cookie {
            headers.push(("Cookie", cookie));
        }
        headers.extend_from_slice(extra);
        let body = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
        let (status, headers, body) = http_request(self.addr, method, path, &headers, &body);
        let session = headers
            .iter()
            .filter(|(name, _)| name == "set-cookie")
            .find_map(|(_, value)| value.strip_prefix("hitkeep_session=hks_").map(|rest| rest.to_owned()))
            .map(|rest| format!("hks_{}", rest.split(';').next().unwrap()));
        let json = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
        Answer { status, json, session }
    }
}

struct Answer {
    status: u16,
    json: serde_json::Value,
    session: Option<String>,
}

impl Answer {
    fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }
}

fn wait_for_setup_link(server: &Server) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = server.stdout();
        if let Some(start) = out.find("setup?code=") {
            let code: String =
                out[start + 11..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            return code;
        }
        assert!(Instant::now() < deadline, "no setup link printed:\n{out}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every file of the data directory that holds the database (the file and its WAL), and
/// the server's logs.
fn files_to_search(data_dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(data_dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("hitkeep.db") || name.ends_with(".log") {
            files.push((name, std::fs::read(&path).unwrap()));
        }
    }
    files
}

fn assert_absent(files: &[(String, Vec<u8>)], secrets: &[(&str, Vec<u8>)]) {
    for (file, bytes) in files {
        for (what, secret) in secrets {
            assert!(
                !bytes.windows(secret.len()).any(|window| window == secret.as_slice()),
                "{what} is in {file} in clear"
            );
        }
    }
}

#[test]
fn every_sign_in_method_works_and_no_secret_is_stored_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    let mut client = Client { addr: server.http, cookie: None };

    // First run: the printed link creates the owner.
    let setup_code = wait_for_setup_link(&server);
    let setup = client.call(
        "POST",
        "/api/auth/setup",
        &[],
        serde_json::json!({ "code": setup_code, "email": EMAIL, "password": PASSWORD, "name": "Owner" }),
    );
    assert_eq!(setup.status, 201, "{}", setup.json);
    let first_session = setup.session.clone().expect("signed in by the setup");
    client.cookie = Some(first_session.clone());
    let site = client.call("POST", "/api/sites", &[], serde_json::json!({ "domain": "example.com" }));
    assert_eq!(site.status, 201, "{}", site.json);

    // An authenticator app, with pyotp as the phone.
    let begun = client.call("POST", "/api/account/totp", &[], serde_json::json!({ "password": PASSWORD }));
    assert_eq!(begun.status, 201, "{}", begun.json);
    let totp_secret = begun.json["secret"].as_str().unwrap().to_owned();
    assert!(begun.json["qr_svg"].as_str().unwrap().contains("<svg"));
    let confirmed = client.call(
        "POST",
        "/api/account/totp/confirm",
        &[],
        serde_json::json!({ "code": pyotp(&totp_secret, 0) }),
    );
    assert_eq!(confirmed.status, 200, "{}", confirmed.json);
    let recovery: Vec<String> = confirmed.json["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    assert_eq!(client.call("POST", "/api/auth/logout", &[], serde_json::Value::Null).status, 204);
    client.cookie = None;

    // Password, then the next step's code (one step of drift is allowed, and it is later than
    // the code that confirmed the enrolment).
    let login = serde_json::json!({ "email": EMAIL, "password": PASSWORD });
    let wrong = client.call(
        "POST",
        "/api/auth/login",
        &[],
        serde_json::json!({ "email": EMAIL, "password": "wrong one" }),
    );
    assert_eq!((wrong.status, wrong.code()), (401, "invalid_credentials"));
    let step = client.call("POST", "/api/auth/login", &[], login.clone());
    assert_eq!(step.status, 202, "{}", step.json);
    let challenge = step.json["challenge"].as_str().unwrap().to_owned();
    let code = pyotp(&totp_secret, 30);
    let body = serde_json::json!({ "challenge": challenge, "code": code });
    let signed_in = client.call("POST", "/api/auth/login/second-factor", &[], body);
    assert_eq!(signed_in.status, 200, "{}", signed_in.json);
    let totp_session = signed_in.session.expect("a session");
    let replay_challenge =
        client.call("POST", "/api/auth/login", &[], login.clone()).json["challenge"].clone();
    let replayed = client.call(
        "POST",
        "/api/auth/login/second-factor",
        &[],
        serde_json::json!({ "challenge": replay_challenge, "code": code }),
    );
    assert_eq!((replayed.status, replayed.code()), (401, "code_already_used"));

    // A recovery code, once.
    let step = client.call("POST", "/api/auth/login", &[], login.clone());
    let body = serde_json::json!({ "challenge": step.json["challenge"], "code": recovery[0] });
    let by_recovery = client.call("POST", "/api/auth/login/second-factor", &[], body.clone());
    assert_eq!(by_recovery.status, 200, "{}", by_recovery.json);
    let recovery_session = by_recovery.session.expect("a session");
    client.cookie = Some(recovery_session.clone());
    let sessions = client.call("GET", "/api/account/sessions", &[], serde_json::Value::Null);
    let methods: Vec<&str> =
        sessions.json.as_array().unwrap().iter().filter_map(|session| session["method"].as_str()).collect();
    assert!(methods.contains(&"password+totp") && methods.contains(&"password+recovery_code"), "{methods:?}");

    // An API token and a share link with a password.
    let token = client.call(
        "POST",
        "/api/tokens",
        &[],
        serde_json::json!({ "name": "ci", "scope": "read", "sites": ["example.com"] }),
    );
    assert_eq!(token.status, 201, "{}", token.json);
    let token = token.json["secret"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {token}");
    let anonymous = Client { addr: server.http, cookie: None };
    let by_token = anonymous.call(
        "GET",
        "/api/sites/example.com",
        &[("Authorization", &bearer)],
        serde_json::Value::Null,
    );
    assert_eq!(by_token.status, 200, "{}", by_token.json);
    let share = client.call(
        "POST",
        "/api/sites/example.com/shares",
        &[],
        serde_json::json!({ "name": "board", "password": SHARE_PASSWORD }),
    );
    assert_eq!(share.status, 201, "{}", share.json);
    let share_code = share.json["code"].as_str().unwrap().to_owned();
    let unlocked = anonymous.call(
        "POST",
        "/api/share/unlock",
        &[],
        serde_json::json!({ "code": share_code, "password": SHARE_PASSWORD }),
    );
    assert_eq!(unlocked.status, 200, "{}", unlocked.json);
    let unlock = unlocked.json["unlock"].as_str().unwrap().to_owned();
    let viewed =
        anonymous.call("GET", "/api/share", &[("X-Hitkeep-Share", &unlock)], serde_json::Value::Null);
    assert_eq!((viewed.status, viewed.json["domain"].as_str()), (200, Some("example.com")));

    let mut secrets: Vec<(&str, Vec<u8>)> = vec![
        ("the password", PASSWORD.into()),
        ("the share link's password", SHARE_PASSWORD.into()),
        ("the first session", first_session.clone().into_bytes()),
        ("the TOTP session", totp_session.clone().into_bytes()),
        ("the recovery-code session", recovery_session.clone().into_bytes()),
        ("the API token", token.clone().into_bytes()),
        ("the share link's code", share_code.clone().into_bytes()),
        ("the share unlocking", unlock.clone().into_bytes()),
        ("the sign-in challenge", challenge.clone().into_bytes()),
        ("the TOTP secret (base32)", totp_secret.clone().into_bytes()),
        ("the TOTP secret (bytes)", base32_bytes(&totp_secret)),
    ];
    for code in &recovery {
        secrets.push(("a recovery code", code.clone().into_bytes()));
        secrets.push(("a recovery code (without dashes)", code.replace('-', "").into_bytes()));
    }
    // While it runs (the WAL holds the newest writes), then after a clean stop (checkpointed).
    assert_absent(&files_to_search(dir.path()), &secrets);
    server.stop();
    assert_absent(&files_to_search(dir.path()), &secrets);

    // And in what the database holds, decompressed: every row of every table as text.
    let connection = duckdb::Connection::open(dir.path().join(hitkeep_store::DB_FILE)).unwrap();
    let tables: Vec<String> = connection
        .prepare("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(tables.iter().any(|table| table == "totp_factors"), "{tables:?}");
    let mut dump = Vec::new();
    for table in &tables {
        let mut statement = connection.prepare(&format!("SELECT t::VARCHAR FROM \"{table}\" AS t")).unwrap();
        let rows: Vec<String> =
            statement.query_map([], |row| row.get(0)).unwrap().collect::<Result<_, _>>().unwrap();
        for row in rows {
            dump.extend_from_slice(row.as_bytes());
            dump.push(b'\n');
        }
    }
    assert!(dump.windows(EMAIL.len()).any(|window| window == EMAIL.as_bytes()), "the dump holds the rows");
    let text_secrets: Vec<(&str, Vec<u8>)> =
        secrets.into_iter().filter(|(what, _)| *what != "the TOTP secret (bytes)").collect();
    assert_absent(&[("the rows of the database".to_owned(), dump)], &text_secrets);
}

#[test]
fn a_forgotten_password_is_reset_by_mail_through_a_real_smtp_server() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(dir.path());
    let config = dir.path().join("hitkeep.toml");
    std::fs::write(
        &config,
        format!(
            "smtp_host = \"127.0.0.1\"\nsmtp_port = {}\nsmtp_tls = \"none\"\nsmtp_from = \"Hitkeep <hitkeep@localhost>\"\n",
            smtp.port
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&data, &["--config", config.to_str().unwrap()]);
    let client = Client { addr: server.http, cookie: None };
    let setup_code = wait_for_setup_link(&server);
    let setup = client.call(
        "POST",
        "/api/auth/setup",
        &[],
        serde_json::json!({ "code": setup_code, "email": EMAIL, "password": PASSWORD }),
    );
    assert_eq!(setup.status, 201, "{}", setup.json);
    let status = client.call("GET", "/api/auth/status", &[], serde_json::Value::Null);
    assert_eq!(status.json["email_enabled"], true);

    let asked = client.call("POST", "/api/auth/password-reset", &[], serde_json::json!({ "email": EMAIL }));
    assert_eq!(asked.status, 202, "{}", asked.json);
    let message = smtp.wait_for_message();
    let base = format!("http://{}/reset?code=", server.http);
    let start = message.find(&base).unwrap_or_else(|| panic!("a link to {base} in:\n{message}"));
    let code: String = message[start + base.len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let reset = client.call(
        "POST",
        "/api/auth/password-reset/complete",
        &[],
        serde_json::json!({ "code": code, "password": "the new passphrase, long" }),
    );
    assert_eq!(reset.status, 200, "{}", reset.json);
    let signed_in = client.call(
        "POST",
        "/api/auth/login",
        &[],
        serde_json::json!({ "email": EMAIL, "password": "the new passphrase, long" }),
    );
    assert_eq!(signed_in.status, 200, "{}", signed_in.json);
    let log = server.log();
    assert!(
        !log.contains(EMAIL) && !log.contains(&code),
        "the log holds neither the address nor the link:\n{log}"
    );
    server.stop();
}
