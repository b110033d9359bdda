//! What authentication costs: argon2id with the OWASP parameters (a sign-in), checking a
//! TOTP code, the authorization work a request with a bearer token adds (cached after its
//! first use), and that of a share link (read from the database every time, so that
//! revoking one takes effect at once).
//!
//! `cargo bench -p hitkeep --bench auth`

use std::hint::black_box;

use axum::http::{Method, Request};
use criterion::{Criterion, criterion_group, criterion_main};
use hitkeep_server::auth::{password, totp};
use hitkeep_server::test_app::TestApp;
use hitkeep_store::TokenScope;

fn passwords(c: &mut Criterion) {
    let name =
        format!("argon2id_m{}_t{}_p{}", password::MEMORY_KIB, password::ITERATIONS, password::PARALLELISM);
    let mut group = c.benchmark_group(name);
    group.sample_size(20);
    let stored = password::hash("correct horse battery staple");
    group.bench_function("hash", |b| b.iter(|| password::hash(black_box("correct horse battery staple"))));
    group.bench_function("verify", |b| {
        b.iter(|| password::verify(black_box("correct horse battery staple"), &stored))
    });
    group.finish();
}

fn codes(c: &mut Criterion) {
    let secret = totp::new_secret();
    let now_ms = 1_767_225_600_000;
    let code = totp::code_at(&secret, now_ms);
    c.bench_function("totp_check", |b| b.iter(|| totp::check(black_box(&secret), black_box(&code), now_ms)));
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
    let share = hitkeep_server::auth::secret::SecretKind::ShareLink.generate();
    let site = app.store().site("example.com").unwrap();
    let link = hitkeep_store::NewShareLink {
        site_id: site.id,
        name: "bench",
        digest: &hitkeep_server::auth::secret::digest(&share),
        password_hash: None,
        embed: false,
        created_by: None,
        expires_at_ms: None,
    };
    app.store().add_share_link(&link, 0).unwrap();
    let mut with_share = parts(None);
    with_share.headers.insert("x-hitkeep-share", share.parse().unwrap());
    group.bench_function("share_link_principal", |b| {
        b.to_async(&runtime).iter(|| async {
            let principal =
                app.state.auth.principal(&app.state.store, black_box(&with_share)).await.unwrap().unwrap();
            black_box(principal.access(site.id))
        })
    });
    group.bench_function("router_healthz_without_auth", |b| {
        b.to_async(&runtime).iter(|| async { app.request(Method::GET, "/healthz").send().await.status })
    });
    group.finish();
}

criterion_group!(benches, passwords, codes, bearer);
criterion_main!(benches);
