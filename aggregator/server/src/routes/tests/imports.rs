//! A site's imported history over the API: uploading a Plausible export's file, listing and
//! removing imports, and the refusals.

use axum::http::Method;
use hitkeep_store::{InstanceRole, SiteRole};

use crate::test_app::TestApp;

const MANAGER: &str = "manager@example.com";
const VIEWER: &str = "viewer@example.com";
const VISITORS: &str = "date,visitors,pageviews,bounces,visits,visit_duration\n2025-06-01,10,30,4,12,600\n2025-06-02,20,50,10,25,1000\n";

#[tokio::test]
async fn managers_upload_list_and_remove_imported_history() {
    let app = TestApp::new()
        .with_site("a.example")
        .with_user(MANAGER, InstanceRole::Member, &[("a.example", SiteRole::Admin)])
        .with_user(VIEWER, InstanceRole::Member, &[("a.example", SiteRole::Viewer)]);
    let (manager, viewer) = (app.session(MANAGER), app.session(VIEWER));
    let path = "/api/sites/a.example/imports?name=imported_visitors_20250601_20250602.csv";
    let uploaded = app
        .request(Method::POST, path)
        .cookie(&manager)
        .raw("application/octet-stream", VISITORS)
        .send()
        .await;
    assert_eq!(uploaded.status.as_u16(), 201, "{}", String::from_utf8_lossy(&uploaded.body));
    assert_eq!(uploaded.json()["rows"]["imported_visitors"], 2);
    assert_eq!(uploaded.json()["first_day"], "2025-06-01");

    let listed = app.request(Method::GET, "/api/sites/a.example/imports").cookie(&manager).send().await;
    let imports = listed.json();
    assert_eq!(imports.as_array().unwrap().len(), 1, "{imports}");
    assert_eq!((imports[0]["rows"].as_u64(), imports[0]["last_day"].as_str()), (Some(2), Some("2025-06-02")));
    let id = imports[0]["id"].as_u64().unwrap();

    // Refusals: a viewer, a name that says nothing, a row that cannot be read.
    let refused = app
        .request(Method::POST, path)
        .cookie(&viewer)
        .raw("application/octet-stream", VISITORS)
        .send()
        .await;
    assert_eq!(refused.status_code(), (403, "insufficient_role".into()));
    let unnamed = app
        .request(Method::POST, "/api/sites/a.example/imports?name=notes.txt")
        .cookie(&manager)
        .raw("application/octet-stream", VISITORS)
        .send()
        .await;
    assert_eq!(unnamed.status_code(), (400, "invalid_import".into()));
    let broken = app
        .request(Method::POST, path)
        .cookie(&manager)
        .raw(
            "application/octet-stream",
            "date,visitors,pageviews,bounces,visits,visit_duration\n2025-06-01,ten,1,1,1,1\n",
        )
        .send()
        .await;
    assert_eq!(broken.status_code(), (400, "invalid_takeout".into()));
    assert!(broken.json()["error"]["message"].as_str().unwrap().contains("row 2"), "{}", broken.json());
    let not_a_zip = app
        .request(Method::POST, "/api/sites/a.example/imports?name=export.zip")
        .cookie(&manager)
        .raw("application/octet-stream", "not a zip")
        .send()
        .await;
    assert_eq!(not_a_zip.status_code(), (400, "invalid_import".into()));

    let removed = app
        .request(Method::DELETE, &format!("/api/sites/a.example/imports/{id}"))
        .cookie(&manager)
        .send()
        .await;
    assert_eq!(removed.status.as_u16(), 204);
    let again = app
        .request(Method::DELETE, &format!("/api/sites/a.example/imports/{id}"))
        .cookie(&manager)
        .send()
        .await;
    assert_eq!(again.status_code(), (404, "import_not_found".into()));
    assert!(app.store().site_imports(app.store().site("a.example").unwrap().id).unwrap().is_empty());
}
