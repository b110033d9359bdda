//! How fast the generator produces hits and batches, on one core.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hitkeep_traffic::{Traffic, TrafficConfig, batches};

const HITS: u64 = 1_000_000;

fn config(days: u32) -> TrafficConfig {
    TrafficConfig { hits: HITS, days, ..TrafficConfig::default() }
}

fn generate(c: &mut Criterion) {
    let mut group = c.benchmark_group("generate");
    group.throughput(Throughput::Elements(HITS));
    group.sample_size(10);
    // A month of demo traffic, and the same number of hits in one day (more visits in
    // flight at once).
    for (name, days) in [("1M hits over 30 days", 30), ("1M hits over 1 day", 1)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut bytes = 0usize;
                for hit in Traffic::new(config(days)) {
                    bytes += hit.path.len();
                    black_box(&hit);
                }
                bytes
            })
        });
    }
    group.bench_function("1M hits over 30 days, written into one reused hit", |b| {
        b.iter(|| {
            let mut traffic = Traffic::new(config(30));
            let mut hit = Traffic::new(TrafficConfig { hits: 1, ..config(30) }).next().expect("one hit");
            let mut bytes = 0usize;
            while traffic.next_into(&mut hit) {
                bytes += hit.path.len();
                black_box(&hit);
            }
            bytes
        })
    });
    group.bench_function("1M hits over 30 days, in batches of 1000", |b| {
        b.iter(|| {
            batches(Traffic::new(config(30)), "bench", 1_000)
                .map(|batch| black_box(batch).hits.len())
                .sum::<usize>()
        })
    });
    // The floor: copying hits that already exist costs about as many allocations per hit
    // as generating them does (the wire type owns its strings).
    let sample: Vec<_> = Traffic::new(TrafficConfig { hits: 10_000, ..config(30) }).collect();
    group.bench_function("1M clones of existing hits (allocation floor)", |b| {
        b.iter(|| {
            let mut bytes = 0usize;
            for index in 0..HITS as usize {
                let hit = sample[index % sample.len()].clone();
                bytes += hit.path.len();
                black_box(&hit);
            }
            bytes
        })
    });
    group.finish();
}

criterion_group!(benches, generate);
criterion_main!(benches);
