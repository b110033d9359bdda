//! The OpenAPI document against the router: every route of the routers' source is in the
//! document with its methods, every operation of the document reaches a handler, and the
//! document is served.

use std::collections::BTreeSet;

use axum::http::Method;
use serde_json::Value;

use crate::routes::openapi::OPENAPI;
use crate::test_app::TestApp;

const METHODS: [&str; 7] = ["get", "post", "put", "delete", "patch", "head", "options"];

/// The documented paths: the API's, and the health and tracker routes. Pages are not API:
/// the plain ones (`/basic/*`, `routes/pages.rs`, `routes/sso.rs`) and the dashboard's
/// (`index.html` on its paths and `/static/*`, `routes/web.rs`) are left out by their paths.
fn documented(path: &str) -> bool {
    path.starts_with("/api/") || matches!(path, "/healthz" | "/readyz" | "/metrics" | "/hk.js")
}

/// `(method, path)` of every `.route(..)` in the `router` functions of `src/routes/*.rs`
/// (not `control_router`), read from the source as written.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let Some(start) = source.find("pub fn router(") else { continue };
        // The function's body: up to the next top-level item.
        let body = &source[start..];
        let end =
            body[1..].find("\npub fn ").or_else(|| body[1..].find("\nfn ")).map_or(body.len(), |i| i + 1);
        let body = &body[..end];
        let mut rest = body;
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            // The call's argument list, to its closing parenthesis.
            let mut depth = 1;
            let mut close = 0;
            for (index, c) in rest.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            close = index;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let call = &rest[..close];
            let route = call.split('"').nth(1).unwrap_or_default().to_owned();
            let handlers = call.split_once(',').map_or("", |(_, handlers)| handlers);
            for method in METHODS {
                let pattern = format!("{method}(");
                let mentions = handlers.match_indices(&pattern).any(|(index, _)| {
                    index == 0 || !handlers[..index].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                });
                if mentions && documented(&route) {
                    found.insert((method.to_owned(), route.clone()));
                }
            }
        }
    }
    found
}

fn document() -> Value {
    serde_json::from_str(OPENAPI).expect("openapi.json is JSON")
}

fn operations(document: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                found.insert((method.to_owned(), path.clone()));
            }
        }
    }
    found
}

#[test]
fn the_document_lists_exactly_the_routes() {
    let document = document();
    assert_eq!(document["openapi"], "3.1.0");
    let in_source = routes_in_source();
    assert!(in_source.len() > 40, "the source scan finds the routes: {in_source:?}");
    let in_document = operations(&document);
    let undocumented: Vec<_> = in_source.difference(&in_document).collect();
    let unrouted: Vec<_> = in_document.difference(&in_source).collect();
    assert!(undocumented.is_empty(), "routes missing from openapi.json: {undocumented:?}");
    assert!(unrouted.is_empty(), "operations in openapi.json that no router has: {unrouted:?}");
    for (method, path) in &in_document {
        let operation = &document["paths"][path][method];
        assert!(operation["operationId"].is_string(), "{method} {path} has an operationId");
        assert!(operation["responses"].is_object(), "{method} {path} has responses");
    }
}

#[tokio::test]
async fn every_documented_operation_reaches_a_handler() {
    let app = TestApp::new().with_site("a.example");
    for (method, path) in operations(&document()) {
        let concrete: String = path
            .split('/')
            .map(|segment| match segment {
                "{domain}" => "a.example",
                s if s.starts_with('{') => "1",
                s => s,
            })
            .collect::<Vec<_>>()
            .join("/");
        let method: Method = method.to_uppercase().parse().unwrap();
        let response = app.request(method.clone(), &concrete).send().await;
        let fell_through = response.status.as_u16() == 404
            && serde_json::from_slice::<Value>(&response.body)
                .is_ok_and(|body| body["error"]["message"] == "no such route");
        assert!(!fell_through, "{method} {concrete} reaches no route");
        assert_ne!(response.status.as_u16(), 405, "{method} {concrete} is not allowed");
    }
}

#[tokio::test]
async fn the_document_is_served() {
    let app = TestApp::new();
    let response = app.request(Method::GET, "/api/openapi.json").send().await;
    assert_eq!(response.status.as_u16(), 200);
    assert_eq!(response.json(), document());
}
