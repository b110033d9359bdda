//! `hitkeep serve` as an operator runs it: health, readiness, metrics, the site CLI.

use crate::harness::*;

#[test]
fn serve_reports_health_readiness_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    let (status, body) = http_get(server.http, "/healthz");
    assert_eq!(status, 200, "{body}");
    let (status, body) = http_get(server.http, "/readyz");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ready"));
    let (status, body) = http_get(server.http, "/metrics");
    assert_eq!(status, 200);
    assert!(body.contains("hitkeep_broker"), "broker metrics missing:\n{body}");
    let (status, _) = http_get(server.http, "/no/such/route");
    assert_eq!(status, 404);
    server.stop();
    assert!(!dir.path().join("hitkeep.sock").exists(), "control socket left behind");
    assert!(!dir.path().join("hitkeep.runtime.json").exists(), "runtime file left behind");
}

#[test]
fn site_cli_works_with_and_without_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let site = |args: &[&str]| {
        let mut all = vec!["site", "--data-dir", data_dir];
        all.extend_from_slice(args);
        run_cli(&all)
    };

    // Offline: straight on the database file.
    let out = site(&["add", "offline.example", "--timezone", "Europe/Rome"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Online: through the control socket; DuckDB's lock would refuse a second writer.
    let mut server = Server::start(dir.path(), &[]);
    let out = site(&["add", "Online.Example"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "added online.example (UTC)\n");
    let out = site(&["add", "online.example"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("site_exists"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = site(&["add", "bad domain"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid_domain"));
    let out = site(&["add", "tz.example", "--timezone", "Mars/Base"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid_timezone"));
    let out = site(&["list", "--json"]);
    assert!(out.status.success());
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let domains: Vec<&str> =
        listed.as_array().unwrap().iter().map(|s| s["domain"].as_str().unwrap()).collect();
    assert_eq!(domains, ["offline.example", "online.example"]);
    let out = site(&["remove", "offline.example"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    server.stop();

    // Offline again: the server's changes are in the file.
    let out = site(&["list"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("online.example") && !text.contains("offline.example"), "{text}");
}

#[test]
fn configuration_errors_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hitkeep.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nlisten_typo = 1\n").unwrap();
    let out = run_cli(&["serve", "--config", config.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("listen_typo"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn demo_loads_traffic_with_progress_and_dedupes_a_second_load() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let args = ["demo", "--data-dir", data_dir, "--hits", "20000", "--days", "7", "--seed", "3", "--quiet"];
    let out = run_cli(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("loaded 20000 hits (20000 new)"));
    let out = run_cli(&args);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("(0 new)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let counts = open_store(dir.path()).counts().unwrap();
    assert_eq!(counts.events, 20_000);
}

#[test]
fn edges_get_their_configuration_and_change_notices_over_nats() {
    use futures_util::StreamExt;
    use hitkeep_protocol::{EDGE_CONFIG_CHANGED_SUBJECT, EDGE_CONFIG_SUBJECT};

    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = nats(&server.nats_url).await;
        let mut changes = client.subscribe(EDGE_CONFIG_CHANGED_SUBJECT).await.unwrap();
        client.flush().await.unwrap();
        let out = run_cli(&["site", "--data-dir", data_dir, "add", "edge.example"]);
        assert!(out.status.success());
        tokio::time::timeout(std::time::Duration::from_secs(10), changes.next())
            .await
            .expect("change notice")
            .unwrap();

        let reply = client.request(EDGE_CONFIG_SUBJECT, bytes::Bytes::new()).await.unwrap();
        let config = hitkeep_collector_core::Config::from_json(&reply.payload).unwrap();
        assert!(config.site("edge.example").is_some());
        assert_ne!(config.salts().current, config.salts().previous);
        // The salts are stable between requests on the same day.
        let again = client.request(EDGE_CONFIG_SUBJECT, bytes::Bytes::new()).await.unwrap();
        let again = hitkeep_collector_core::Config::from_json(&again.payload).unwrap();
        assert_eq!(again.salts(), config.salts());
    });
    server.stop();
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.path().join("salts.json")).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}
