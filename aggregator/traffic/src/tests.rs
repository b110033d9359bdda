//! Tests of the generated traffic as a whole: exactness, order, validity, determinism,
//! the shape of its statistics, the coherence of visits, and bounded memory.

use std::collections::HashMap;
use std::sync::OnceLock;

use hitkeep_protocol::{Channel, EventKind, Hit};

use crate::site::DAY_MS;
use crate::{Attribution, Traffic, TrafficConfig};

/// Plausible's session timeout: a visitor's hits more than this apart are separate visits.
const SESSION_TIMEOUT_MS: i64 = 30 * 60_000;

fn config(hits: u64) -> TrafficConfig {
    TrafficConfig { hits, ..TrafficConfig::default() }
}

/// 200,000 hits on the three demo sites over 30 days, generated once for all tests.
fn sample() -> &'static [Hit] {
    static SAMPLE: OnceLock<Vec<Hit>> = OnceLock::new();
    SAMPLE.get_or_init(|| Traffic::new(config(200_000)).collect())
}

/// Splits hits into visits the way a sessionizer would: by visitor, at gaps longer than the
/// session timeout; a visit that crosses UTC midnight is found again by `visitor_prev`.
fn visits(hits: &[Hit]) -> Vec<Vec<&Hit>> {
    let mut visits: Vec<Vec<&Hit>> = Vec::new();
    let mut open: HashMap<u64, usize> = HashMap::new();
    for hit in hits {
        let current = [hit.visitor, hit.visitor_prev].iter().find_map(|visitor| {
            open.get(visitor).copied().filter(|index| {
                let visit = &visits[*index];
                hit.ts - visit[visit.len() - 1].ts <= SESSION_TIMEOUT_MS
            })
        });
        let index = match current {
            Some(index) => {
                visits[index].push(hit);
                index
            }
            None => {
                visits.push(vec![hit]);
                visits.len() - 1
            }
        };
        open.insert(hit.visitor, index);
    }
    visits
}

fn share(part: usize, whole: usize) -> f64 {
    part as f64 / whole as f64
}

#[test]
fn yields_exactly_the_configured_number_of_hits() {
    for (hits, days, sites) in [
        (0, 1, 3),
        (1, 1, 3),
        (3, 1, 1),
        (7, 30, 3),
        (1_000, 1, 1),
        (12_345, 3, 3),
        (50_001, 1, 2),
        (2_000, 365, 3),
    ] {
        let mut config = config(hits);
        config.days = days;
        config.sites.truncate(sites);
        let traffic = Traffic::new(config);
        assert_eq!(traffic.size_hint(), (hits as usize, Some(hits as usize)));
        let count = traffic.count() as u64;
        assert_eq!(count, hits, "{hits} hits over {days} days on {sites} sites");
    }
}

#[test]
fn hits_are_ordered_inside_the_span_and_valid() {
    let traffic = Traffic::new(config(1));
    let (start, end) = traffic.span_ms();
    assert_eq!(end - start, 30 * DAY_MS);
    let hits = sample();
    assert!(hits.windows(2).all(|pair| pair[0].ts <= pair[1].ts));
    assert!(hits.iter().all(|hit| (start..end).contains(&hit.ts)));
    for hit in hits {
        assert_eq!(hit.validate(), Ok(()), "{hit:?}");
        assert_eq!(hit.hostname, hit.domain);
        assert!(hit.interactive);
    }
    // The traffic reaches the end of the span: the last hour is not empty.
    assert!(hits[hits.len() - 1].ts > end - 60 * 60_000);
}

#[test]
fn the_same_config_gives_the_same_bytes_and_seeds_differ() {
    let encode = |config: TrafficConfig| -> Vec<u8> {
        Traffic::new(config).flat_map(|hit| serde_json::to_vec(&hit).unwrap()).collect()
    };
    let first = encode(config(20_000));
    assert_eq!(first, encode(config(20_000)));
    assert_ne!(first, encode(TrafficConfig { seed: 43, ..config(20_000) }));
    let hits: Vec<Hit> = Traffic::new(config(100)).collect();
    let other: Vec<Hit> = Traffic::new(TrafficConfig { seed: 1, ..config(100) }).collect();
    assert!(hits.iter().zip(&other).filter(|(a, b)| a.visitor == b.visitor).count() == 0);
}

#[test]
fn writing_into_a_reused_hit_gives_the_same_hits() {
    let mut traffic = Traffic::new(config(20_000));
    let mut reused = crate::session::blank_hit();
    let expected: Vec<Hit> = Traffic::new(config(20_000)).collect();
    for hit in &expected {
        assert!(traffic.next_into(&mut reused));
        assert_eq!(&reused, hit);
    }
    assert!(!traffic.next_into(&mut reused));
    assert_eq!(&reused, expected.last().unwrap());
}

#[test]
fn every_site_gets_traffic_with_its_own_pages() {
    let hits = sample();
    let mut per_site: HashMap<&str, usize> = HashMap::new();
    for hit in hits {
        *per_site.entry(&hit.domain).or_default() += 1;
    }
    let demo = share(per_site["demo.hitkeep.dev"], hits.len());
    let shop = share(per_site["shop.example"], hits.len());
    let docs = share(per_site["docs.example"], hits.len());
    assert!(demo > shop && shop > docs && docs > 0.1, "{per_site:?}");
    assert!(hits.iter().any(|hit| hit.domain == "shop.example" && hit.path.starts_with("/products/")));
    assert!(hits.iter().any(|hit| hit.domain == "docs.example" && hit.path.starts_with("/docs/")));
}

#[test]
fn about_half_the_visits_bounce() {
    let visits = visits(sample());
    let bounces =
        visits.iter().filter(|visit| visit.len() == 1 && visit[0].kind == EventKind::Pageview).count();
    let bounce_rate = share(bounces, visits.len());
    assert!((0.40..0.55).contains(&bounce_rate), "bounce rate {bounce_rate:.3}");
    let pageviews = sample().iter().filter(|hit| hit.kind == EventKind::Pageview).count();
    let per_visit = share(pageviews, visits.len());
    assert!((1.8..3.5).contains(&per_visit), "{per_visit:.2} pageviews per visit");
}

#[test]
fn channels_have_a_realistic_mix() {
    let visits = visits(sample());
    let mut by_channel: HashMap<Channel, usize> = HashMap::new();
    for visit in &visits {
        *by_channel.entry(visit[0].channel).or_default() += 1;
    }
    let of = |channel| share(by_channel.get(&channel).copied().unwrap_or(0), visits.len());
    let bounds = [
        (Channel::Direct, 0.33..0.46),
        (Channel::OrganicSearch, 0.20..0.33),
        (Channel::OrganicSocial, 0.07..0.16),
        (Channel::Referral, 0.07..0.20),
        (Channel::Email, 0.02..0.06),
        (Channel::PaidSearch, 0.02..0.05),
        (Channel::PaidSocial, 0.005..0.03),
    ];
    for (channel, range) in bounds {
        assert!(range.contains(&of(channel)), "{}: {:.3}", channel.label(), of(channel));
    }
    for hit in sample() {
        match hit.channel {
            Channel::Direct => assert!(hit.referrer.is_none() && hit.source.is_none() && hit.utm.is_empty()),
            Channel::Email => assert_eq!(hit.utm.medium.as_deref(), Some("email")),
            Channel::PaidSearch => assert_eq!(hit.utm.medium.as_deref(), Some("cpc")),
            Channel::OrganicSearch | Channel::Referral => {
                assert!(hit.referrer.is_some() && hit.source.is_some() && hit.utm.is_empty());
            }
            _ => assert!(hit.source.is_some()),
        }
        if let Some(referrer) = &hit.referrer {
            assert!(!referrer.contains("://") && !referrer.contains('?'), "{referrer}");
        }
    }
}

#[test]
fn a_few_pages_get_most_views() {
    let mut by_path: HashMap<&str, usize> = HashMap::new();
    let mut pageviews = 0;
    for hit in
        sample().iter().filter(|hit| hit.domain == "demo.hitkeep.dev" && hit.kind == EventKind::Pageview)
    {
        *by_path.entry(&hit.path).or_default() += 1;
        pageviews += 1;
    }
    let mut counts: Vec<usize> = by_path.values().copied().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let top = share(counts[0], pageviews);
    let top_ten = share(counts[..10].iter().sum(), pageviews);
    assert_eq!(by_path.iter().max_by_key(|(_, count)| **count).map(|(path, _)| *path), Some("/"));
    assert!((0.12..0.35).contains(&top), "top page {top:.3}");
    assert!((0.40..0.75).contains(&top_ten), "top ten {top_ten:.3}");
    assert!(by_path.len() > 150, "{} distinct pages", by_path.len());
}

#[test]
fn traffic_follows_the_local_day_and_week() {
    // One site in Europe/Berlin (UTC+1), over four weeks.
    let config = TrafficConfig { sites: vec!["demo.hitkeep.dev".into()], days: 28, ..config(200_000) };
    let offset_ms = 60 * 60_000;
    let mut by_hour = [0usize; 24];
    let mut by_day = [0usize; 28];
    let start = Traffic::new(config.clone()).span_ms().0;
    for hit in Traffic::new(config) {
        let local = hit.ts + offset_ms;
        by_hour[(local.rem_euclid(DAY_MS) / (60 * 60_000)) as usize] += 1;
        by_day[((hit.ts - start) / DAY_MS) as usize] += 1;
    }
    let afternoon: usize = by_hour[13..17].iter().sum();
    let night: usize = by_hour[2..6].iter().sum();
    assert!(afternoon > 5 * night, "afternoon {afternoon}, night {night}");

    // Medians, so a one-day spike does not decide.
    let median = |mut days: Vec<usize>| {
        days.sort_unstable();
        days[days.len() / 2] as f64
    };
    let weekday_of = |day: usize| (start / DAY_MS + day as i64 + 3).rem_euclid(7);
    let weekdays = median((0..28).filter(|day| weekday_of(*day) < 5).map(|day| by_day[day]).collect());
    let weekends = median((0..28).filter(|day| weekday_of(*day) >= 5).map(|day| by_day[day]).collect());
    assert!(weekdays > 1.3 * weekends, "weekday median {weekdays}, weekend median {weekends}");
}

#[test]
fn traffic_grows_over_a_year() {
    let config = TrafficConfig { days: 364, ..config(200_000) };
    let start = Traffic::new(config.clone()).span_ms().0;
    let mut first_quarter = 0;
    let mut last_quarter = 0;
    for hit in Traffic::new(config) {
        match (hit.ts - start) / DAY_MS {
            0..91 => first_quarter += 1,
            273.. => last_quarter += 1,
            _ => {}
        }
    }
    let growth = share(last_quarter, first_quarter);
    assert!((1.2..2.0).contains(&growth), "growth {growth:.2}");
}

/// What must not change within one visitor's hits.
fn person(hit: &Hit) -> String {
    format!(
        "{} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
        hit.domain,
        hit.country,
        hit.region,
        hit.city,
        hit.browser,
        hit.browser_version,
        hit.os,
        hit.os_version,
        hit.device
    )
}

#[test]
fn visitors_and_visits_are_coherent() {
    let hits = sample();
    let mut people: HashMap<u64, &Hit> = HashMap::new();
    for hit in hits {
        let first = people.entry(hit.visitor).or_insert(hit);
        assert_eq!(person(first), person(hit));
    }
    for visit in visits(hits) {
        let landing = visit[0];
        assert_eq!(landing.kind, EventKind::Pageview);
        for hit in &visit[1..] {
            assert_eq!(
                (&hit.referrer, &hit.source, hit.channel),
                (&landing.referrer, &landing.source, landing.channel)
            );
            assert_eq!(hit.utm, landing.utm);
        }
    }
    // Visits that cross UTC midnight change visitor hash; `visitor_prev` links them.
    let mut linked = 0;
    for hit in hits {
        if let Some(yesterday) = people.get(&hit.visitor_prev) {
            assert_eq!(person(yesterday), person(hit));
            assert_eq!(yesterday.ts.div_euclid(DAY_MS) + 1, hit.ts.div_euclid(DAY_MS));
            linked += 1;
        }
    }
    assert!(linked > 0);
    let visitors = people.len();
    let visit_count = visits(hits).len();
    assert!(visit_count > visitors, "some visitors come back: {visit_count} visits by {visitors} visitors");
}

#[test]
fn landing_attribution_leaves_later_hits_direct() {
    let hits: Vec<Hit> = Traffic::new(config(30_000)).with_attribution(Attribution::Landing).collect();
    let mut attributed_later = 0;
    for visit in visits(&hits) {
        for hit in &visit[1..] {
            attributed_later += usize::from(hit.channel != Channel::Direct || hit.referrer.is_some());
        }
    }
    assert_eq!(attributed_later, 0);
    assert!(hits.iter().any(|hit| hit.channel == Channel::OrganicSearch));
}

#[test]
fn custom_events_are_well_formed() {
    let mut names: HashMap<&str, usize> = HashMap::new();
    for hit in sample().iter().filter(|hit| hit.kind == EventKind::Custom) {
        *names.entry(&hit.name).or_default() += 1;
        let prop = |key: &str| hit.props.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        match hit.name.as_str() {
            "Outbound Link: Click" | "File Download" => assert!(prop("url").unwrap().starts_with("https://")),
            "404" => assert_eq!(prop("path"), Some(hit.path.as_str())),
            "Signup" => assert!(prop("method").is_some()),
            "Purchase" => {
                let revenue = hit.revenue.as_ref().unwrap();
                assert!(revenue.amount_micros > 0 && matches!(revenue.currency.as_str(), "EUR" | "USD"));
                assert!(prop("plan").is_some() || prop("items").is_some());
            }
            other => panic!("unexpected event {other}"),
        }
        if hit.name != "Purchase" {
            assert!(hit.revenue.is_none());
        }
    }
    assert_eq!(names.len(), 5, "{names:?}");
    let customs: usize = names.values().sum();
    assert!((0.02..0.08).contains(&share(customs, sample().len())), "{customs} custom events");
}

#[test]
fn memory_is_bounded_by_the_visits_in_flight() {
    // Two million hits in one day: about 800,000 visits, at a few hundred a minute.
    let mut traffic = Traffic::new(TrafficConfig { days: 1, ..config(2_000_000) });
    let mut count = 0u64;
    for hit in traffic.by_ref() {
        count += 1;
        std::hint::black_box(hit);
    }
    assert_eq!(count, 2_000_000);
    assert_eq!(traffic.in_flight(), 0);
    let peak = traffic.peak_in_flight();
    // About 2,400: visits arrive at some 500 a minute and last a few minutes.
    assert!(peak < 5_000, "peak of {peak} visits in flight");
    // Slots are reused: there are never more than the peak.
    let (slots, remembered) = traffic.memory_footprint();
    assert_eq!(slots, peak);
    assert!(remembered <= 3 * 4_096);
}
