//! Fuzzes the whole pipeline: the first line of the input is the user agent, the rest the
//! body. It must never panic, and every hit it produces must be valid.
#![no_main]

use std::sync::OnceLock;

use hitkeep_collector_core::{Config, Geo, RequestInfo, Salts, SiteSettings, process};
use libfuzzer_sys::fuzz_target;

fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let mut site = SiteSettings::new("example.com");
        site.excluded_paths = vec!["/admin/**".parse().unwrap(), "/*/draft".parse().unwrap()];
        site.allowed_hostnames = vec!["example.com".parse().unwrap(), "*.example.com".parse().unwrap()];
        site.excluded_ip_ranges = vec!["192.0.2.0/24".parse().unwrap()];
        Config::new(vec![site, SiteSettings::new("example.org")], Salts { current: [1; 32], previous: [2; 32] })
            .unwrap()
    })
}

fuzz_target!(|input: &[u8]| {
    let split = input.iter().position(|b| *b == b'\n').unwrap_or(0);
    let user_agent = std::str::from_utf8(&input[..split]).ok();
    let body = input.get(split + 1..).unwrap_or_default();
    let request = RequestInfo {
        method: "POST",
        content_type: Some("text/plain"),
        body,
        user_agent,
        dnt: false,
        gpc: false,
        client_ip: "198.51.100.1".parse().unwrap(),
        geo: Geo { country: user_agent.and_then(|ua| ua.get(..2)), region: None, city: None },
        now_ms: 1_767_225_600_000,
    };
    if let Ok(outcome) = process(config(), &request) {
        for hit in &outcome.hits {
            assert_eq!(hit.validate(), Ok(()));
        }
    }
});
