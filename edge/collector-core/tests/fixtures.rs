//! Bot detection and user-agent classification against real user agents in `fixtures/`.

use hitkeep_collector_core::{classify_user_agent, is_bot};
use hitkeep_protocol::Device;

fn lines(name: &str) -> Vec<String> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_crawler_is_a_bot() {
    let bots = lines("bots.txt");
    assert!(bots.len() >= 50, "{} bots", bots.len());
    let missed: Vec<_> = bots.iter().filter(|ua| !is_bot(Some(ua))).collect();
    assert!(missed.is_empty(), "not detected as bots: {missed:#?}");
}

fn device_name(device: Device) -> &'static str {
    match device {
        Device::Unknown => "Unknown",
        Device::Desktop => "Desktop",
        Device::Mobile => "Mobile",
        Device::Tablet => "Tablet",
    }
}

#[test]
fn every_browser_is_a_person_and_classified() {
    let browsers = lines("browsers.txt");
    assert!(browsers.len() >= 50, "{} browsers", browsers.len());
    let mut failures = Vec::new();
    for line in &browsers {
        let fields: Vec<&str> = line.splitn(6, '\t').collect();
        let [browser, version, os, os_version, device, ua] = fields[..] else {
            panic!("bad fixture line {line:?}")
        };
        if is_bot(Some(ua)) {
            failures.push(format!("taken for a bot: {ua}"));
        }
        let info = classify_user_agent(ua);
        let found = [
            info.browser.unwrap_or("-"),
            info.browser_version.as_deref().unwrap_or("-"),
            info.os.unwrap_or("-"),
            info.os_version.as_deref().unwrap_or("-"),
            device_name(info.device),
        ];
        let expected = [browser, version, os, os_version, device];
        if found != expected {
            failures.push(format!("{ua}\n    expected {expected:?}\n    found    {found:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} misclassified:\n{}",
        failures.len(),
        browsers.len(),
        failures.join("\n")
    );
}
