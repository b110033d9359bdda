//! A second client implementation: nats-py runs `tests/python/client_smoke.py` against the broker.

use std::path::Path;
use std::process::Command;

use crate::support::start_default;

#[tokio::test]
async fn nats_py_client_works() {
    let import = Command::new("python3").args(["-c", "import nats"]).output();
    let installed = import.as_ref().is_ok_and(|output| output.status.success());
    assert!(
        installed,
        "nats-py is missing: run `pip install nats-py` (python3 -c 'import nats' failed: {import:?})"
    );

    let broker = start_default().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/client_smoke.py");
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        tokio::process::Command::new("python3")
            .arg(&script)
            .arg(broker.client_url())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("python client finishes in time")
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "nats-py smoke failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("all checks passed"), "{stdout}");
}
