//! Property tests: no input makes the collector panic, and whatever it accepts is a valid hit.

use hitkeep_collector_core::{Config, Geo, RequestInfo, Salts, SiteSettings, parse_payload, process};
use proptest::prelude::*;

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

fn config() -> Config {
    let mut site = SiteSettings::new("example.com");
    site.excluded_paths = vec!["/admin/**".parse().unwrap()];
    site.allowed_hostnames = vec!["*".parse().unwrap()];
    Config::new(vec![site], Salts { current: [1; 32], previous: [2; 32] }).unwrap()
}

fn run(body: &[u8], user_agent: Option<&str>, country: Option<&str>, now_ms: i64) {
    let config = config();
    let info = RequestInfo {
        method: "POST",
        content_type: Some("text/plain"),
        body,
        user_agent,
        dnt: false,
        gpc: false,
        client_ip: "192.0.2.1".parse().unwrap(),
        geo: Geo { country, region: country, city: country },
        now_ms,
    };
    if let Ok(outcome) = process(&config, &info) {
        for hit in &outcome.hits {
            assert_eq!(hit.validate(), Ok(()), "{hit:?}");
        }
    }
}

/// JSON values biased towards the payload's own fields.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        ".{0,40}".prop_map(serde_json::Value::from),
        "(https?|ftp|about|android-app):(//)?[a-zA-Z0-9.%:@\\[\\]-]{0,20}(/[a-zA-Z0-9%._~#?&=+-]{0,30}){0,3}"
            .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::vec(("[a-z$]{1,8}", inner), 0..6)
                .prop_map(|entries| serde_json::Value::Object(entries.into_iter().collect())),
        ]
    })
}

fn payload() -> impl Strategy<Value = serde_json::Value> {
    let key = prop_oneof![
        Just("n"),
        Just("name"),
        Just("u"),
        Just("url"),
        Just("d"),
        Just("domain"),
        Just("r"),
        Just("referrer"),
        Just("p"),
        Just("props"),
        Just("m"),
        Just("$"),
        Just("revenue"),
        Just("i"),
        Just("h"),
        Just("hashMode"),
    ];
    (
        prop::collection::vec((key, json_value()), 0..10),
        json_value(),
        prop_oneof![Just("pageview".to_owned()), Just("Signup".to_owned()), ".{0,130}"],
        "(https?://(www\\.)?example\\.com(:[0-9]{1,5})?)?[/a-zA-Z0-9%#?&=._~+-]{0,60}",
    )
        .prop_map(|(entries, extra, name, url)| {
            let mut object = serde_json::Map::new();
            object.insert("n".into(), name.into());
            object.insert("u".into(), url.into());
            object.insert("d".into(), "example.com".into());
            object.insert("x".into(), extra);
            for (key, value) in entries {
                object.insert(key.to_owned(), value);
            }
            serde_json::Value::Object(object)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_payload(&body);
        run(&body, Some("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/1 Safari/537.36"), None, 1_767_225_600_000);
    }

    #[test]
    fn arbitrary_payloads(
        payload in payload(),
        user_agent in prop_oneof![Just(Some(FIREFOX.to_owned())), prop::option::of(".{0,200}")],
        country in prop::option::of(".{0,4}"),
    ) {
        let body = serde_json::to_vec(&payload).unwrap();
        run(&body, user_agent.as_deref(), country.as_deref(), 1_767_225_600_000);
    }

    #[test]
    fn arbitrary_clock(now_ms in any::<i64>()) {
        run(br#"{"n":"pageview","u":"https://example.com/","d":"example.com"}"#,
            Some(FIREFOX), None, now_ms);
    }

    #[test]
    fn arbitrary_user_agents(user_agent in "(Mozilla/5\\.0 \\()?[ -~]{0,120}\\)?.{0,60}") {
        let _ = hitkeep_collector_core::is_bot(Some(&user_agent));
        let _ = hitkeep_collector_core::classify_user_agent(&user_agent);
    }
}
