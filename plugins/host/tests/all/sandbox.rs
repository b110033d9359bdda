//! The sandbox: no file system, environment, network or clock; sleeping does not block the
//! host; imports beyond the contract and WASI are refused.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use hitkeep_plugins::{Error, LoadError, PluginConfig, fixtures};
use serde_json::json;

use crate::support::{hits, load, prop};

#[test]
fn a_plugin_has_no_files_environment_network_or_time() {
    // Something a plugin would reach if the sandbox let it.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let plugins = load(vec![
        PluginConfig::new("probe", fixtures::SANDBOX_PROBE)
            // An hour's sleep: it must return at once, since time does not pass.
            .settings(json!({"port": port, "sleep_ms": 3_600_000}))
            .timeout(Duration::from_secs(2)),
    ]);
    let mut batch = hits(1);
    let started = Instant::now();
    let report = plugins.apply(&mut batch);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the sleep blocked the host: {:?}",
        started.elapsed()
    );
    assert_eq!(report.changed, 1, "{report:?}");
    let hit = &batch[0];
    assert_eq!(prop(hit, "fs"), Some("denied"));
    assert_eq!(prop(hit, "env"), Some("0/0"));
    assert_eq!(prop(hit, "net"), Some("denied dns-denied"));
    assert_eq!(prop(hit, "wall"), Some("0 0"), "the wall clock is fixed at the epoch");
    assert_eq!(prop(hit, "mono"), Some("0"), "no time passes, not even in a sleep");
    assert!(listener.accept().is_err(), "nothing connected");
}

#[test]
fn output_is_captured_and_logs_are_kept_by_check() {
    let report = hitkeep_plugins::check_file(
        std::path::Path::new(fixtures::SANDBOX_PROBE),
        "{}",
        &hitkeep_plugins::sample_hits()[..1],
    )
    .unwrap();
    assert!(report.output.contains("probe on stdout"), "{:?}", report.output);
    assert!(report.output.contains("probe on stderr"), "{:?}", report.output);

    let report = hitkeep_plugins::check_file(std::path::Path::new(fixtures::TAGGER), "{}", &[]).unwrap();
    assert_eq!(report.logs.len(), 1);
    assert_eq!(
        (report.logs[0].level, report.logs[0].message.as_str()),
        ("info", "tagger configured with key tag")
    );
}

#[test]
fn imports_beyond_the_contract_are_refused() {
    let error = match hitkeep_plugins::check_file(std::path::Path::new(fixtures::NET_HTTP), "{}", &[]) {
        Err(error) => error,
        Ok(report) => panic!("a wasi:http plugin loaded: {report}"),
    };
    match &error {
        Error::Load { source: LoadError::Contract(detail), .. } => {
            assert!(detail.contains("wasi:http"), "{detail}")
        }
        other => panic!("expected a contract error, got {other}"),
    }
}
