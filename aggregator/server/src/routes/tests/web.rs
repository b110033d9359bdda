//! The dashboard as the binary serves it: `index.html` on the app's pages under the content
//! security policy, "no such page" for other pages, JSON for the API, the embedded
//! `/static/` files with their caching, compression and ETags, and the plain `/basic/` pages.

use std::io::Read;

use axum::http::Method;

use crate::test_app::{TestApp, TestResponse};

/// What a browser sends when it navigates.
const NAVIGATION: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn text(response: &TestResponse) -> String {
    String::from_utf8(response.body.clone()).expect("UTF-8")
}

fn header<'r>(response: &'r TestResponse, name: &str) -> &'r str {
    response
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", response.headers))
        .to_str()
        .unwrap()
}

/// The `/static/` files `index.html` names: its script and its stylesheet.
async fn named_files(app: &TestApp) -> Vec<String> {
    let index = text(&app.request(Method::GET, "/").send().await);
    let files: Vec<String> = index
        .split("\"/static/")
        .skip(1)
        .map(|rest| format!("/static/{}", rest.split('"').next().unwrap()))
        .collect();
    assert!(files.iter().any(|file| file.ends_with(".js")), "a script: {index}");
    assert!(files.iter().any(|file| file.ends_with(".css")), "a stylesheet: {index}");
    files
}

#[tokio::test]
async fn the_app_pages_are_index_html_under_the_csp() {
    let app = TestApp::new();
    let paths = [
        "/",
        "/sites",
        "/sites/example.com",
        "/sites/example.com/settings/goals",
        "/account",
        "/login",
        "/setup?code=hku_0123",
        "/invite?code=hki_0123",
        "/reset?code=hkr_0123",
    ];
    for path in paths {
        let page = app.request(Method::GET, path).header("accept", NAVIGATION).send().await;
        assert_eq!(page.status.as_u16(), 200, "{path}");
        assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8", "{path}");
        assert_eq!(header(&page, "cache-control"), "no-cache", "{path}");
        assert!(page.headers.contains_key("etag"), "{path}");
        let csp = header(&page, "content-security-policy");
        assert!(csp.contains("script-src 'self'") && csp.contains("style-src 'self'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(header(&page, "x-frame-options"), "DENY");
        assert_eq!(header(&page, "x-content-type-options"), "nosniff");
        let html = text(&page);
        assert!(html.contains("<div id=\"app\"></div>"), "{path}: {html}");
        assert!(html.contains("href=\"/basic/login\""), "the noscript link: {html}");
    }
}

#[tokio::test]
async fn the_built_page_needs_nothing_the_csp_forbids() {
    let app = TestApp::new();
    let html = text(&app.request(Method::GET, "/").send().await);
    // Every script is a file of this origin (script-src 'self': no inline code) ...
    let scripts: Vec<&str> = html.split("<script").skip(1).collect();
    assert!(!scripts.is_empty(), "{html}");
    for script in scripts {
        let tag = script.split('>').next().unwrap();
        assert!(tag.contains("type=\"module\"") && tag.contains("src=\"/static/"), "{tag}");
        assert!(script[tag.len() + 1..].starts_with("</script>"), "no inline code: {script}");
    }
    // ... and so is every stylesheet (style-src 'self': no <style>, no style attributes).
    assert!(!html.contains("<style") && !html.contains(" style="), "{html}");
    assert!(html.contains("rel=\"stylesheet\" crossorigin href=\"/static/"), "{html}");
    for file in named_files(&app).await {
        let answer = app.request(Method::GET, &file).send().await;
        assert_eq!(answer.status.as_u16(), 200, "{file}");
    }
}

#[tokio::test]
async fn index_html_is_revalidated_by_its_etag() {
    let app = TestApp::new();
    let first = app.request(Method::GET, "/sites").send().await;
    let etag = header(&first, "etag").to_owned();
    let again = app.request(Method::GET, "/").header("if-none-match", &etag).send().await;
    assert_eq!(again.status.as_u16(), 304);
    assert!(again.body.is_empty());
    assert_eq!(header(&again, "etag"), etag);
    let other = app.request(Method::GET, "/").header("if-none-match", "\"something else\"").send().await;
    assert_eq!(other.status.as_u16(), 200);
    let head = app.request(Method::HEAD, "/account").send().await;
    assert_eq!(head.status.as_u16(), 200);
    assert!(head.body.is_empty(), "HEAD has no body");
    assert_eq!(header(&head, "content-type"), "text/html; charset=utf-8");
}

#[tokio::test]
async fn unknown_pages_are_the_apps_404_and_the_api_stays_json() {
    let app = TestApp::new();
    for path in ["/no/such/page", "/settings", "/share", "/basic/nothing"] {
        let page = app.request(Method::GET, path).header("accept", NAVIGATION).send().await;
        assert_eq!(page.status.as_u16(), 404, "{path}");
        assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
        assert!(text(&page).contains("<div id=\"app\">"), "{path}");
        assert!(header(&page, "content-security-policy").contains("script-src 'self'"));
        assert!(!page.headers.contains_key("etag"), "a 404 is not revalidated");
        assert_eq!(header(&page, "vary"), "accept");
    }
    // The API answers in JSON whatever the client accepts; so do other methods and clients
    // that do not ask for HTML.
    let api = app.request(Method::GET, "/api/no-such-route").header("accept", NAVIGATION).send().await;
    assert_eq!(api.status_code(), (404, "not_found".into()));
    assert_eq!(api.json()["error"]["message"], "no such route");
    let posted = app.request(Method::POST, "/no/such/page").header("accept", NAVIGATION).send().await;
    assert_eq!(posted.status_code(), (404, "not_found".into()));
    let program = app.request(Method::GET, "/no/such/page").header("accept", "application/json").send().await;
    assert_eq!(program.status_code(), (404, "not_found".into()));
    let bare = app.request(Method::GET, "/no/such/page").send().await;
    assert_eq!(bare.status_code(), (404, "not_found".into()));
    assert_eq!(header(&bare, "vary"), "accept");
}

#[tokio::test]
async fn static_files_are_immutable_with_their_media_type_and_etag() {
    let app = TestApp::new();
    for file in named_files(&app).await {
        let plain = app.request(Method::GET, &file).send().await;
        assert_eq!(plain.status.as_u16(), 200, "{file}");
        let expected =
            if file.ends_with(".js") { "text/javascript; charset=utf-8" } else { "text/css; charset=utf-8" };
        assert_eq!(header(&plain, "content-type"), expected);
        assert_eq!(header(&plain, "cache-control"), "public, max-age=31536000, immutable");
        assert_eq!(header(&plain, "vary"), "accept-encoding");
        assert!(!plain.headers.contains_key("content-encoding"), "nothing was accepted");
        let etag = header(&plain, "etag").to_owned();
        assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() == 34, "{etag}");

        let cached = app.request(Method::GET, &file).header("if-none-match", &etag).send().await;
        assert_eq!(cached.status.as_u16(), 304);
        assert!(cached.body.is_empty());
        assert_eq!(header(&cached, "cache-control"), "public, max-age=31536000, immutable");
        assert_eq!(header(&cached, "etag"), etag);

        let head = app.request(Method::HEAD, &file).send().await;
        assert_eq!(head.status.as_u16(), 200);
        assert!(head.body.is_empty());
        assert_eq!(header(&head, "etag"), etag);
    }
}

#[tokio::test]
async fn static_files_are_compressed_as_the_client_accepts() {
    let app = TestApp::new();
    let script = named_files(&app).await.into_iter().find(|file| file.ends_with(".js")).unwrap();
    let plain = app.request(Method::GET, &script).send().await;

    let brotli =
        app.request(Method::GET, &script).header("accept-encoding", "gzip, deflate, br, zstd").send().await;
    assert_eq!(header(&brotli, "content-encoding"), "br");
    assert_eq!(header(&brotli, "vary"), "accept-encoding");
    assert!(brotli.body.len() < plain.body.len() / 2, "{} of {}", brotli.body.len(), plain.body.len());
    let mut decoded = Vec::new();
    brotli::BrotliDecompress(&mut brotli.body.as_slice(), &mut decoded).unwrap();
    assert_eq!(decoded, plain.body);

    let gzip = app.request(Method::GET, &script).header("accept-encoding", "gzip, br;q=0").send().await;
    assert_eq!(header(&gzip, "content-encoding"), "gzip");
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(gzip.body.as_slice()).read_to_end(&mut decoded).unwrap();
    assert_eq!(decoded, plain.body);

    // Each coding is its own representation, with its own tag.
    let tags = [header(&plain, "etag"), header(&brotli, "etag"), header(&gzip, "etag")];
    assert!(tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2], "{tags:?}");
    let refused = app.request(Method::GET, &script).header("accept-encoding", "identity").send().await;
    assert!(!refused.headers.contains_key("content-encoding"));
    assert_eq!(refused.body, plain.body);
}

#[tokio::test]
async fn unknown_static_files_are_json_404s() {
    let app = TestApp::new();
    let long = format!("/static/{}.js", "a".repeat(300));
    for path in ["/static/nope.js", "/static/../index.html", "/static/index.html", long.as_str()] {
        let missing = app.request(Method::GET, path).header("accept", NAVIGATION).send().await;
        assert_eq!(missing.status_code(), (404, "not_found".into()), "{path}");
        assert_eq!(missing.json()["error"]["message"], "no such file", "{path}");
    }
}

#[tokio::test]
async fn the_plain_pages_live_under_basic() {
    let app = TestApp::new().with_user("ada@example.com", hitkeep_store::InstanceRole::Owner, &[]);
    let login = app.request(Method::GET, "/basic/login").send().await;
    assert_eq!(login.status.as_u16(), 200);
    let html = text(&login);
    assert!(html.contains("<form method=\"post\" action=\"/basic/login\">"), "{html}");
    assert!(html.contains("href=\"/assets/fallback.css\"") && html.contains("src=\"/assets/passkey.js\""));
    assert_eq!(header(&login, "cache-control"), "no-store");
    assert!(header(&login, "content-security-policy").contains("script-src 'self'"));
    // The dashboard's sign-in page is the app, not the form.
    assert!(!text(&app.request(Method::GET, "/login").send().await).contains("<form"));

    let root = app.request(Method::GET, "/basic").send().await;
    assert_eq!((root.status.as_u16(), header(&root, "location")), (303, "/basic/account"));
    let account = app.request(Method::GET, "/basic/account").send().await;
    assert_eq!((account.status.as_u16(), header(&account, "location")), (303, "/basic/login"));
    let signed_in =
        app.request(Method::GET, "/basic/account").cookie(&app.session("ada@example.com")).send().await;
    let html = text(&signed_in);
    assert!(html.contains("Signed in as ada@example.com"), "{html}");
    assert!(html.contains("action=\"/basic/account/totp\"") && html.contains("href=\"/\""), "{html}");
    let reset = app.request(Method::GET, "/basic/reset").send().await;
    assert!(text(&reset).contains("action=\"/basic/reset\""));
    let invite = app.request(Method::GET, "/basic/invite?code=hki_nope").send().await;
    assert!(invite.status.is_client_error() && text(&invite).contains("role=\"alert\""));
    let stylesheet = app.request(Method::GET, "/assets/fallback.css").send().await;
    assert_eq!(header(&stylesheet, "content-type"), "text/css; charset=utf-8");
}
