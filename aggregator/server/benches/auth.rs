//! What authentication costs: argon2id with the OWASP parameters (a sign-in), and the
//! authorization work a request with a bearer token adds (cached after its first use).
//!
//! `cargo bench -p hitkeep --bench auth`

use std::hint::black_box;

use axum::http::{Method, Request};
use criterion::{Criterion, criterion_group, criterion_main};
use hitkeep_server::auth::password;
use hitkeep_server::test_app::TestApp;
use hitkeep_store::TokenScope;

fn passwords(c: &mut Criterion) {
    let mut group = c.benchmark_group("argon2id_m19456_t2_p1");
    group.sample_size(20);
    let stored = password::hash("correct horse battery staple");
    group.bench_function("hash", |b| b.iter(|| password::hash(black_box("correct horse battery staple"))));
    group.bench_function("verify", |b| {
        b.iter(|| password::verify(black_box("correct horse battery staple"), &stored))
    });
    group.finish();
}

fn bearer(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let app = TestApp::new().with_site("example.com");
    let token = app.token("bench", None, TokenScope::Read, &["example.com"], None);
    let parts = |authorization: Option<&str>| {
        let mut builder = Request::builder().method(Method::GET).uri("/api/sites/example.com");
        if let Some(value) = authorization {
            builder = builder.header("authorization", value);
        }
        builder.body(()).unwrap().into_parts().0
    };
    let with_token = parts(Some(&format!("Bearer {token}")));
    // Warm the cache (the first request of a token reads the database).
    runtime.block_on(app.state.auth.principal(&app.state.store, &with_token)).unwrap().unwrap();

    let mut group = c.benchmark_group("authorization");
    group.bench_function("bearer_principal", |b| {
        b.to_async(&runtime).iter(|| async {
            let principal =
                app.state.auth.principal(&app.state.store, black_box(&with_token)).await.unwrap().unwrap();
            black_box(principal.access(1))
        })
    });
    group.bench_function("router_get_site_with_token", |b| {
        b.to_async(&runtime).iter(|| async {
            app.request(Method::GET, "/api/sites/example.com").bearer(&token).send().await.status
        })
    });
    group.bench_function("router_healthz_without_auth", |b| {
        b.to_async(&runtime).iter(|| async { app.request(Method::GET, "/healthz").send().await.status })
    });
    group.finish();
}

criterion_group!(benches, passwords, bearer);
criterion_main!(benches);
