//! The whole pipeline through the public API: privacy rules, drops, errors, hits.

use std::net::IpAddr;

use hitkeep_collector_core::{
    Config, DropReason, Geo, Invalid, Outcome, RequestError, RequestInfo, Salts, SiteSettings, process,
    visitor_hash,
};
use hitkeep_protocol::{Channel, Device, EventKind, Revenue};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const NOW: i64 = 1_767_225_600_000;
const SALTS: Salts = Salts { current: [1; 32], previous: [2; 32] };

fn config() -> Config {
    let mut strict = SiteSettings::new("strict.com");
    strict.excluded_ip_ranges = vec!["10.0.0.0/8".parse().unwrap(), "2001:db8::/32".parse().unwrap()];
    strict.excluded_paths = vec!["/admin/**".parse().unwrap(), "/preview/*".parse().unwrap()];
    strict.allowed_hostnames = vec!["strict.com".parse().unwrap(), "*.strict.com".parse().unwrap()];
    let mut lax = SiteSettings::new("lax.com");
    lax.honor_dnt = false;
    lax.honor_gpc = false;
    Config::new(vec![SiteSettings::new("example.com"), strict, lax], SALTS).unwrap()
}

struct Request {
    body: String,
    user_agent: Option<&'static str>,
    ip: IpAddr,
    dnt: bool,
    gpc: bool,
    content_type: Option<&'static str>,
    method: &'static str,
    country: Option<&'static str>,
}

fn request(body: &str) -> Request {
    Request {
        body: body.to_owned(),
        user_agent: Some(FIREFOX),
        ip: "203.0.113.9".parse().unwrap(),
        dnt: false,
        gpc: false,
        content_type: Some("application/json"),
        method: "POST",
        country: Some("de"),
    }
}

fn event(domain: &str, url: &str) -> Request {
    request(&format!(r#"{{"n":"pageview","u":"{url}","d":"{domain}"}}"#))
}

impl Request {
    fn run(&self) -> Result<Outcome, RequestError> {
        let info = RequestInfo {
            method: self.method,
            content_type: self.content_type,
            body: self.body.as_bytes(),
            user_agent: self.user_agent,
            dnt: self.dnt,
            gpc: self.gpc,
            client_ip: self.ip,
            geo: Geo { country: self.country, region: Some("DE-BE"), city: Some(" Berlin ") },
            now_ms: NOW,
        };
        process(&config(), &info)
    }

    fn codes(&self) -> Vec<&'static str> {
        self.run().unwrap().drop_codes()
    }
}

#[test]
fn a_pageview_becomes_a_hit() {
    let mut request = request(
        r#"{"n":"pageview","u":"https://Example.com/caf%C3%A9/?utm_source=newsletter&utm_medium=email&gclid=1#top",
            "d":"example.com","r":"https://www.google.com/search?q=secret","w":1440}"#,
    );
    request.ip = "::ffff:203.0.113.9".parse().unwrap();
    let outcome = request.run().unwrap();
    assert!(outcome.is_accepted() && outcome.dropped.is_empty());
    let hit = &outcome.hits[0];
    assert_eq!(hit.validate(), Ok(()));
    assert_eq!(hit.ts, NOW);
    assert_eq!(
        (hit.domain.as_str(), hit.hostname.as_str(), hit.path.as_str()),
        ("example.com", "example.com", "/café/")
    );
    assert_eq!((hit.kind, hit.name.as_str()), (EventKind::Pageview, "pageview"));
    assert_eq!(hit.referrer.as_deref(), Some("www.google.com/search"), "no query string");
    assert_eq!(hit.source.as_deref(), Some("newsletter"));
    assert_eq!(hit.channel, Channel::PaidSearch, "the click id says an ad was clicked");
    assert_eq!(hit.utm.medium.as_deref(), Some("email"));
    assert_eq!(
        (hit.country.as_deref(), hit.region.as_deref(), hit.city.as_deref()),
        (Some("DE"), Some("DE-BE"), Some("Berlin"))
    );
    assert_eq!((hit.browser.as_deref(), hit.browser_version.as_deref()), (Some("Firefox"), Some("133")));
    assert_eq!((hit.os.as_deref(), hit.device), (Some("Linux"), Device::Desktop));
    assert!(hit.interactive && hit.props.is_empty() && hit.revenue.is_none());
    let ipv4: IpAddr = "203.0.113.9".parse().unwrap();
    assert_eq!(hit.visitor, visitor_hash(&SALTS.current, "example.com", ipv4, FIREFOX));
    assert_eq!(hit.visitor_prev, visitor_hash(&SALTS.previous, "example.com", ipv4, FIREFOX));
    let json = serde_json::to_string(hit).unwrap();
    assert!(!json.contains("203.0.113.9") && !json.contains("Gecko") && !json.contains("gclid"), "{json}");
}

#[test]
fn a_custom_event_keeps_props_and_revenue() {
    let outcome = request(
        r#"{"name":"Purchase","url":"https://example.com/checkout","domain":"example.com","interactive":false,
            "props":{"plan":"pro","seats":3},"revenue":{"currency":"usd","amount":"19.99"}}"#,
    )
    .run()
    .unwrap();
    let hit = &outcome.hits[0];
    assert_eq!((hit.kind, hit.name.as_str()), (EventKind::Custom, "Purchase"));
    assert_eq!(
        hit.props,
        vec![("plan".to_string(), "pro".to_string()), ("seats".to_string(), "3".to_string())]
    );
    assert_eq!(hit.revenue, Some(Revenue { amount_micros: 19_990_000, currency: "USD".into() }));
    assert!(!hit.interactive);
    let pageview = request(
        r#"{"n":"pageview","u":"https://example.com/","d":"example.com","$":{"currency":"EUR","amount":1}}"#,
    )
    .run()
    .unwrap();
    assert_eq!(pageview.hits[0].revenue, None, "revenue only on custom events");
}

#[test]
fn plausible_engagement_is_its_own_kind() {
    // What @plausible-analytics/tracker 0.4 sends when a page is left or hidden.
    let outcome = request(
        r#"{"n":"engagement","sd":100,"d":"example.com","u":"https://example.com/article","e":679,"v":36,
            "p":{"author":"x"}}"#,
    )
    .run()
    .unwrap();
    let hit = &outcome.hits[0];
    assert_eq!((hit.kind, hit.name.as_str()), (EventKind::Engagement, "engagement"));
    assert!(!hit.interactive, "leaving a page does not end a bounce");
    assert_eq!(
        hit.props,
        vec![
            ("scroll_depth".to_string(), "100".to_string()),
            ("engagement_ms".to_string(), "679".to_string())
        ]
    );
    assert_eq!(hit.validate(), Ok(()));
}

#[test]
fn hash_mode_keeps_the_fragment() {
    let routed = request(
        r##"{"n":"pageview","u":"https://example.com/#/settings/profile?tab=2","d":"example.com","h":1}"##,
    );
    assert_eq!(routed.run().unwrap().hits[0].path, "/#/settings/profile?tab=2");
    let plain = request(r##"{"n":"pageview","u":"https://example.com/#/settings","d":"example.com"}"##);
    assert_eq!(plain.run().unwrap().hits[0].path, "/");
}

#[test]
fn several_domains_give_one_hit_per_site() {
    let outcome = event("example.com, unknown.org,lax.com", "https://example.com/a").run().unwrap();
    let domains: Vec<_> = outcome.hits.iter().map(|hit| hit.domain.as_str()).collect();
    assert_eq!(domains, ["example.com", "lax.com"]);
    assert_eq!(outcome.dropped.len(), 1);
    assert_eq!(
        (outcome.dropped[0].domain.as_str(), outcome.dropped[0].reason),
        ("unknown.org", DropReason::UnknownSite)
    );
    assert_ne!(outcome.hits[0].visitor, outcome.hits[1].visitor, "visitor ids differ across sites");
}

#[test]
fn unknown_sites_and_bots() {
    assert_eq!(event("nope.com", "https://nope.com/").codes(), ["unknown_site"]);
    for user_agent in [
        None,
        Some(""),
        Some("curl/8.5.0"),
        Some("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
    ] {
        let mut bot = event("example.com", "https://example.com/");
        bot.user_agent = user_agent;
        assert_eq!(bot.codes(), ["bot"], "{user_agent:?}");
    }
    let mut bot_on_unknown_site = event("nope.com", "https://nope.com/");
    bot_on_unknown_site.user_agent = Some("curl/8");
    assert_eq!(bot_on_unknown_site.codes(), ["unknown_site"]);
}

#[test]
fn dnt_and_gpc_are_honoured_per_site() {
    let mut dnt = event("example.com,lax.com", "https://example.com/");
    dnt.dnt = true;
    let outcome = dnt.run().unwrap();
    assert_eq!(outcome.drop_codes(), ["dnt"]);
    assert_eq!(outcome.hits.len(), 1, "lax.com does not honour DNT");
    let mut gpc = event("example.com", "https://example.com/");
    gpc.gpc = true;
    assert_eq!(gpc.codes(), ["gpc"]);
}

#[test]
fn excluded_ips_hostnames_and_paths() {
    let mut office = event("strict.com", "https://strict.com/");
    office.ip = "10.1.2.3".parse().unwrap();
    assert_eq!(office.codes(), ["excluded_ip"]);
    office.ip = "2001:db8::42".parse().unwrap();
    assert_eq!(office.codes(), ["excluded_ip"]);
    office.ip = "::ffff:10.9.9.9".parse().unwrap();
    assert_eq!(office.codes(), ["excluded_ip"]);

    assert_eq!(event("strict.com", "https://staging.strict.com/").codes(), Vec::<&str>::new());
    assert_eq!(event("strict.com", "https://strict.com.evil.io/").codes(), ["excluded_hostname"]);
    assert_eq!(event("strict.com", "https://localhost:3000/").codes(), ["excluded_hostname"]);

    assert_eq!(event("strict.com", "https://strict.com/admin/users/1").codes(), ["excluded_path"]);
    assert_eq!(event("strict.com", "https://strict.com/preview/draft").codes(), ["excluded_path"]);
    assert_eq!(event("strict.com", "https://strict.com/preview/a/b").codes(), Vec::<&str>::new());
    assert_eq!(event("strict.com", "https://strict.com/administrator").codes(), Vec::<&str>::new());
}

#[test]
fn urls_without_host_are_dropped_and_non_urls_refused() {
    let outcome = event("example.com", "about:blank").run().unwrap();
    assert_eq!(outcome.dropped[0].reason, DropReason::Invalid(Invalid::UrlWithoutHost));
    assert_eq!(outcome.dropped[0].reason.to_string(), "invalid (url_without_host)");
    assert_eq!(event("example.com", "file:///index.html").codes(), ["invalid"]);
    let error = event("example.com", "/relative/path").run().unwrap_err();
    assert_eq!((error.code(), error.field()), ("invalid_field", Some("url")));
    let error = event("example.com", "https://exa mple.com/").run().unwrap_err();
    assert_eq!(error.field(), Some("url"));
}

#[test]
fn self_referrals_are_not_sources() {
    let outcome = request(
        r#"{"n":"pageview","u":"https://www.example.com/b","d":"example.com","r":"https://example.com/a"}"#,
    )
    .run()
    .unwrap();
    let hit = &outcome.hits[0];
    assert_eq!((hit.referrer.as_deref(), hit.source.as_deref(), hit.channel), (None, None, Channel::Direct));
}

#[test]
fn request_errors() {
    let mut get = event("example.com", "https://example.com/");
    get.method = "GET";
    assert_eq!(get.run().unwrap_err(), RequestError::MethodNotAllowed);
    let mut form = event("example.com", "https://example.com/");
    form.content_type = Some("application/x-www-form-urlencoded");
    assert_eq!(form.run().unwrap_err().status(), 415);
    for accepted in [None, Some("text/plain;charset=UTF-8"), Some("Application/JSON; charset=utf-8")] {
        let mut beacon = event("example.com", "https://example.com/");
        beacon.content_type = accepted;
        assert!(beacon.run().is_ok(), "{accepted:?}");
    }
    assert_eq!(request("{").run().unwrap_err().code(), "invalid_json");
    assert_eq!(
        request(r#"{"n":"pageview","d":"example.com"}"#).run().unwrap_err(),
        RequestError::MissingField("url")
    );
    let too_big = request(&format!(
        r#"{{"n":"pageview","u":"https://example.com/","d":"example.com","x":"{}"}}"#,
        "a".repeat(9000)
    ));
    assert_eq!(too_big.run().unwrap_err().status(), 413);
}

#[test]
fn geo_is_checked() {
    for (country, expected) in [
        (Some("de"), Some("DE")),
        (Some(" US "), Some("US")),
        (Some("T1"), None),
        (Some("DEU"), None),
        (None, None),
    ] {
        let mut located = event("example.com", "https://example.com/");
        located.country = country;
        assert_eq!(located.run().unwrap().hits[0].country.as_deref(), expected, "{country:?}");
    }
}

#[test]
fn salts_change_the_visitor_and_yesterday_is_kept() {
    let body = br#"{"n":"pageview","u":"https://example.com/","d":"example.com"}"#;
    let run = |salts: Salts| {
        let config = Config::new(vec![SiteSettings::new("example.com")], salts).unwrap();
        let info = RequestInfo {
            method: "POST",
            content_type: None,
            body,
            user_agent: Some(FIREFOX),
            dnt: false,
            gpc: false,
            client_ip: "198.51.100.1".parse().unwrap(),
            geo: Geo::default(),
            now_ms: NOW,
        };
        process(&config, &info).unwrap().hits.remove(0)
    };
    let today = run(Salts { current: [5; 32], previous: [4; 32] });
    let tomorrow = run(Salts { current: [6; 32], previous: [5; 32] });
    assert_eq!(today, run(Salts { current: [5; 32], previous: [4; 32] }), "stable across calls");
    assert_ne!(today.visitor, tomorrow.visitor);
    assert_eq!(today.visitor, tomorrow.visitor_prev, "a visit across midnight can be joined");
}

#[test]
fn debug_output_hides_the_ip_and_user_agent() {
    let info = RequestInfo {
        method: "POST",
        content_type: None,
        body: b"{}",
        user_agent: Some(FIREFOX),
        dnt: false,
        gpc: false,
        client_ip: "198.51.100.77".parse().unwrap(),
        geo: Geo::default(),
        now_ms: NOW,
    };
    let debug = format!("{info:?}");
    assert!(!debug.contains("198.51.100.77") && !debug.contains("Firefox"), "{debug}");
    assert!(!format!("{:?}", config()).contains("[1, 1"), "salts are not printed");
}
