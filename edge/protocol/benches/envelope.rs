//! Encoding and decoding a batch of 1,000 hits in each envelope: what the aggregator spends
//! per batch before a hit reaches its pipeline, and what an edge spends cutting a batch.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hitkeep_protocol::{Batch, Channel, Device, EventKind, Hit, Utm, binary};

/// A thousand hits like the benchmark traffic's: pageviews with a browser, an OS and a
/// country, one in five from a referrer with a campaign, one in ten a custom event with
/// properties.
fn hits() -> Vec<Hit> {
    (0..1_000u64)
        .map(|n| {
            let referred = n % 5 == 0;
            let custom = n % 10 == 3;
            Hit {
                ts: 1_767_225_600_000 + n as i64 * 250,
                domain: "shop.example".into(),
                kind: if custom { EventKind::Custom } else { EventKind::Pageview },
                name: if custom { "Add to cart".into() } else { "pageview".into() },
                visitor: n.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                visitor_prev: n.wrapping_mul(0xC2B2_AE3D_27D4_EB4F),
                hostname: "shop.example".into(),
                path: format!("/products/category-{}/item-{}", n % 17, n % 251),
                referrer: referred.then(|| "www.google.com/".into()),
                source: referred.then(|| "Google".into()),
                channel: if referred { Channel::OrganicSearch } else { Channel::Direct },
                utm: Utm { campaign: referred.then(|| "spring-sale".into()), ..Utm::default() },
                country: Some("DE".into()),
                region: Some("DE-BE".into()),
                city: Some("Berlin".into()),
                browser: Some("Firefox".into()),
                browser_version: Some("131".into()),
                os: Some("Linux".into()),
                os_version: None,
                device: Device::Desktop,
                props: if custom {
                    vec![("sku".into(), format!("sku-{n}")), ("qty".into(), "1".into())]
                } else {
                    vec![]
                },
                revenue: None,
                interactive: true,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let batch = Batch::new("edge-a-lz3k1a-42", "edge-a", hits());
    let json = batch.encode();
    let bin = batch.encode_binary();
    println!("1,000 hits: JSON {} bytes, binary {} bytes", json.len(), bin.len());

    let mut group = c.benchmark_group("batch of 1,000 hits");
    group.throughput(Throughput::Elements(1_000));
    group.bench_function("decode JSON (v1)", |b| b.iter(|| Batch::decode(black_box(&json)).unwrap()));
    group.bench_function("decode binary (v2)", |b| b.iter(|| Batch::decode(black_box(&bin)).unwrap()));
    group.bench_function("encode JSON (v1)", |b| b.iter(|| black_box(&batch).encode()));
    group.bench_function("encode binary (v2)", |b| b.iter(|| black_box(&batch).encode_binary()));
    let encoded: Vec<Vec<u8>> = batch
        .hits
        .iter()
        .map(|hit| {
            let mut out = Vec::new();
            binary::encode_hit(hit, &mut out);
            out
        })
        .collect();
    group.bench_function("assemble binary from encoded hits (edge)", |b| {
        b.iter(|| binary::encode_batch(black_box("edge-a-lz3k1a-42"), "edge-a", black_box(&encoded)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
