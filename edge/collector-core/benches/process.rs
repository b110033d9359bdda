//! Cost of one request through the whole pipeline, and of its main steps.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hitkeep_collector_core::{
    Config, Geo, RequestInfo, Salts, SiteSettings, classify_user_agent, is_bot, parse_payload, process,
    visitor_hash,
};

const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/131.0.0.0 Safari/537.36";
const PAGEVIEW: &[u8] = br#"{"n":"pageview","u":"https://www.example.com/blog/hello-world?utm_source=newsletter&utm_medium=email&utm_campaign=launch","d":"example.com","r":"https://www.google.com/","w":1280}"#;
const CUSTOM: &[u8] = br#"{"n":"Purchase","u":"https://example.com/checkout/done","d":"example.com","r":null,"p":{"plan":"pro","seats":5,"trial":false},"$":{"currency":"EUR","amount":"49.90"}}"#;

fn config() -> Config {
    let mut site = SiteSettings::new("example.com");
    site.excluded_ip_ranges = vec!["10.0.0.0/8".parse().unwrap()];
    site.excluded_paths = vec!["/admin/**".parse().unwrap()];
    let mut sites = vec![site];
    sites.extend((0..1000).map(|i| SiteSettings::new(format!("site-{i}.example.org"))));
    Config::new(sites, Salts { current: [1; 32], previous: [2; 32] }).unwrap()
}

fn request(body: &[u8]) -> RequestInfo<'_> {
    RequestInfo {
        method: "POST",
        content_type: Some("text/plain;charset=UTF-8"),
        body,
        user_agent: Some(CHROME),
        dnt: false,
        gpc: false,
        client_ip: "203.0.113.7".parse().unwrap(),
        geo: Geo { country: Some("DE"), region: Some("DE-BE"), city: Some("Berlin") },
        now_ms: 1_767_225_600_000,
    }
}

fn bench(c: &mut Criterion) {
    let config = config();
    c.bench_function("process/pageview", |b| {
        let request = request(PAGEVIEW);
        b.iter(|| process(black_box(&config), black_box(&request)).unwrap())
    });
    c.bench_function("process/custom_event", |b| {
        let request = request(CUSTOM);
        b.iter(|| process(black_box(&config), black_box(&request)).unwrap())
    });
    c.bench_function("process/bot", |b| {
        let mut request = request(PAGEVIEW);
        request.user_agent = Some("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)");
        b.iter(|| process(black_box(&config), black_box(&request)).unwrap())
    });
    c.bench_function("parse_payload", |b| b.iter(|| parse_payload(black_box(PAGEVIEW)).unwrap()));
    c.bench_function("is_bot/browser", |b| b.iter(|| is_bot(black_box(Some(CHROME)))));
    c.bench_function("classify_user_agent", |b| b.iter(|| classify_user_agent(black_box(CHROME))));
    let ip = "203.0.113.7".parse().unwrap();
    c.bench_function("visitor_hash", |b| {
        b.iter(|| {
            visitor_hash(black_box(&[7; 32]), black_box("example.com"), black_box(ip), black_box(CHROME))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
