use axum::http::Method;
use hitkeep_store::{InstanceRole, SiteRole};
use serde_json::json;

use crate::auth::secret::{SecretKind, digest};
use crate::test_app::{TestApp, password_of};

const OWNER: &str = "owner@example.com";
const ADMIN: &str = "admin@example.com";
const SITE_OWNER: &str = "siteowner@example.com";
const VIEWER: &str = "viewer@example.com";
const STRANGER: &str = "stranger@example.com";

fn app() -> TestApp {
    TestApp::new()
        .with_site("a.example")
        .with_site("b.example")
        .with_user(OWNER, InstanceRole::Owner, &[])
        .with_user(ADMIN, InstanceRole::Admin, &[])
        .with_user(SITE_OWNER, InstanceRole::Member, &[("a.example", SiteRole::Owner)])
        .with_user(VIEWER, InstanceRole::Member, &[("a.example", SiteRole::Viewer)])
        .with_user(STRANGER, InstanceRole::Member, &[])
}

#[tokio::test]
async fn site_roles_decide_what_each_person_may_do() {
    let app = app();
    let rules = json!({ "honor_dnt": false, "honor_gpc": true, "excluded_ip_ranges": [], "excluded_paths": [], "allowed_hostnames": [] });
    let viewer = app.session(VIEWER);
    assert_eq!(
        app.request(Method::GET, "/api/sites/a.example").cookie(&viewer).send().await.json()["access"],
        "read"
    );
    let put = app
        .request(Method::PUT, "/api/sites/a.example/rules")
        .cookie(&viewer)
        .json(rules.clone())
        .send()
        .await;
    assert_eq!(put.status_code(), (403, "insufficient_role".into()));
    assert!(app.store().site("a.example").unwrap().rules.honor_dnt, "unchanged");
    let members = app.request(Method::GET, "/api/sites/a.example/members").cookie(&viewer).send().await;
    assert_eq!(members.status_code(), (403, "insufficient_role".into()));

    let stranger = app.session(STRANGER);
    let hidden = app.request(Method::GET, "/api/sites/a.example").cookie(&stranger).send().await;
    assert_eq!(hidden.status_code(), (404, "site_not_found".into()));
    assert_eq!(app.request(Method::GET, "/api/sites").cookie(&stranger).send().await.json(), json!([]));

    let site_owner = app.session(SITE_OWNER);
    let put =
        app.request(Method::PUT, "/api/sites/a.example/rules").cookie(&site_owner).json(rules).send().await;
    assert_eq!(put.status.as_u16(), 200);
    assert!(!app.store().site("a.example").unwrap().rules.honor_dnt);
    let b = app.request(Method::GET, "/api/sites/b.example").cookie(&site_owner).send().await;
    assert_eq!(b.status_code(), (404, "site_not_found".into()));
    let add = app
        .request(Method::POST, "/api/sites")
        .cookie(&site_owner)
        .json(json!({ "domain": "c.example" }))
        .send()
        .await;
    assert_eq!(add.status_code(), (403, "insufficient_role".into()));

    let admin = app.session(ADMIN);
    assert_eq!(
        app.request(Method::GET, "/api/sites").cookie(&admin).send().await.json().as_array().unwrap().len(),
        2
    );
    let add = app
        .request(Method::POST, "/api/sites")
        .cookie(&admin)
        .json(json!({ "domain": "c.example" }))
        .send()
        .await;
    assert_eq!(add.status.as_u16(), 201);
    assert!(app.store().site("c.example").is_ok());
}

#[tokio::test]
async fn site_owners_manage_members_and_removal_ends_access() {
    let app = app();
    let site_owner = app.session(SITE_OWNER);
    let stranger_id = app.user_id(STRANGER);
    let stranger = app.session(STRANGER);
    let added = app
        .request(Method::POST, "/api/sites/a.example/members")
        .cookie(&site_owner)
        .json(json!({ "email": STRANGER, "role": "viewer" }))
        .send()
        .await;
    assert_eq!(added.status.as_u16(), 200, "{:?}", added.json());
    assert_eq!(
        app.request(Method::GET, "/api/sites/a.example").cookie(&stranger).send().await.status.as_u16(),
        200
    );
    let members =
        app.request(Method::GET, "/api/sites/a.example/members").cookie(&site_owner).send().await.json();
    assert_eq!(members.as_array().unwrap().len(), 3);

    let removed = app
        .request(Method::DELETE, &format!("/api/sites/a.example/members/{stranger_id}"))
        .cookie(&site_owner)
        .send()
        .await;
    assert_eq!(removed.status.as_u16(), 204);
    assert_eq!(
        app.request(Method::GET, "/api/sites/a.example").cookie(&stranger).send().await.status_code(),
        (404, "site_not_found".into())
    );
    let viewer = app.session(VIEWER);
    let not_owner = app
        .request(Method::DELETE, &format!("/api/sites/a.example/members/{stranger_id}"))
        .cookie(&viewer)
        .send()
        .await;
    assert_eq!(not_owner.status_code(), (403, "insufficient_role".into()));
}

#[tokio::test]
async fn instance_admins_manage_people_but_not_owners() {
    let app = app();
    let member = app.session(VIEWER);
    assert_eq!(
        app.request(Method::GET, "/api/users").cookie(&member).send().await.status_code(),
        (403, "insufficient_role".into())
    );
    let admin = app.session(ADMIN);
    assert_eq!(
        app.request(Method::GET, "/api/users").cookie(&admin).send().await.json().as_array().unwrap().len(),
        5
    );
    let made = app
        .request(Method::POST, "/api/users")
        .cookie(&admin)
        .json(json!({ "email": "new@example.com", "role": "member" }))
        .send()
        .await;
    assert_eq!(made.status.as_u16(), 201);
    let generated = made.json()["generated_password"].as_str().unwrap().to_owned();
    let login = app
        .request(Method::POST, "/api/auth/login")
        .json(json!({ "email": "new@example.com", "password": generated }))
        .send()
        .await;
    assert_eq!(login.status.as_u16(), 200);
    let owner_made = app
        .request(Method::POST, "/api/users")
        .cookie(&admin)
        .json(json!({ "email": "o2@example.com", "role": "owner" }))
        .send()
        .await;
    assert_eq!(owner_made.status_code(), (403, "insufficient_role".into()));
    let owner_id = app.user_id(OWNER);
    let remove_owner =
        app.request(Method::DELETE, &format!("/api/users/{owner_id}")).cookie(&admin).send().await;
    assert_eq!(remove_owner.status_code(), (403, "insufficient_role".into()));
    let promote = app
        .request(Method::PUT, &format!("/api/users/{}", app.user_id(VIEWER)))
        .cookie(&admin)
        .json(json!({ "role": "owner" }))
        .send()
        .await;
    assert_eq!(promote.status_code(), (403, "insufficient_role".into()));

    // Removing a person ends their sessions at once.
    let viewer_id = app.user_id(VIEWER);
    let removed = app.request(Method::DELETE, &format!("/api/users/{viewer_id}")).cookie(&admin).send().await;
    assert_eq!(removed.status.as_u16(), 200);
    assert_eq!(
        app.request(Method::GET, "/api/account").cookie(&member).send().await.status_code(),
        (401, "session_expired".into())
    );
    let owner = app.session(OWNER);
    let last = app.request(Method::DELETE, &format!("/api/users/{owner_id}")).cookie(&owner).send().await;
    assert_eq!(last.status_code(), (409, "last_owner".into()));
}

#[tokio::test]
async fn invitations_make_accounts_once_until_they_expire() {
    let app = app();
    let admin = app.session(ADMIN);
    let invited = app
        .request(Method::POST, "/api/invitations")
        .cookie(&admin)
        .json(json!({ "email": "guest@example.com", "site": "b.example", "site_role": "viewer" }))
        .send()
        .await;
    assert_eq!(invited.status.as_u16(), 201, "{:?}", invited.json());
    let code = invited.json()["code"].as_str().unwrap().to_owned();
    let shown = app.request(Method::GET, &format!("/api/auth/invitations/{code}")).send().await.json();
    assert_eq!(
        (shown["email"].as_str(), shown["site"].as_str()),
        (Some("guest@example.com"), Some("b.example"))
    );
    let accept = |code: &str| json!({ "code": code, "password": "guest password here" });
    let accepted = app.request(Method::POST, "/api/auth/invitations/accept").json(accept(&code)).send().await;
    assert_eq!(accepted.status.as_u16(), 201);
    let cookie = accepted.session_cookie().unwrap();
    assert_eq!(
        app.request(Method::GET, "/api/sites/b.example").cookie(&cookie).send().await.json()["access"],
        "read"
    );
    let again = app.request(Method::POST, "/api/auth/invitations/accept").json(accept(&code)).send().await;
    assert_eq!(again.status_code(), (403, "invalid_invitation".into()));

    let later = app
        .request(Method::POST, "/api/invitations")
        .cookie(&admin)
        .json(json!({ "email": "late@example.com" }))
        .send()
        .await;
    let code = later.json()["code"].as_str().unwrap().to_owned();
    app.clock.advance(crate::routes::people::INVITATION_DAYS * 86_400_000);
    let expired = app.request(Method::POST, "/api/auth/invitations/accept").json(accept(&code)).send().await;
    assert_eq!(expired.status_code(), (403, "invitation_expired".into()));
    assert!(app.store().user_by_email("late@example.com").is_err());
    let _ = (SecretKind::Invitation, digest, password_of);
}

#[tokio::test]
async fn pending_invitations_are_listed_and_withdrawn_by_admins() {
    let app = app();
    let admin = app.session(ADMIN);
    let invite = |email: &'static str| {
        app.request(Method::POST, "/api/invitations")
            .cookie(&admin)
            .json(json!({ "email": email, "site": "b.example", "site_role": "admin" }))
            .send()
    };
    let first = invite("first@example.com").await.json();
    let second = invite("second@example.com").await.json();
    let listed = app.request(Method::GET, "/api/invitations").cookie(&admin).send().await;
    assert_eq!(listed.status.as_u16(), 200);
    let listed = listed.json();
    let emails: Vec<&str> = listed.as_array().unwrap().iter().map(|i| i["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["second@example.com", "first@example.com"], "newest first");
    assert_eq!(listed[0]["id"], second["id"]);
    assert_eq!(
        (listed[0]["site"].as_str(), listed[0]["site_role"].as_str()),
        (Some("b.example"), Some("admin"))
    );
    assert!(listed[0].get("code").is_none(), "codes are never shown again");

    // Members may not see or withdraw them.
    let member = app.session(VIEWER);
    assert_eq!(
        app.request(Method::GET, "/api/invitations").cookie(&member).send().await.status.as_u16(),
        403
    );
    let path = format!("/api/invitations/{}", first["id"]);
    assert_eq!(app.request(Method::DELETE, &path).cookie(&member).send().await.status.as_u16(), 403);

    // Withdrawn: gone from the list, its link refused, recorded; a second time is 404.
    assert_eq!(app.request(Method::DELETE, &path).cookie(&admin).send().await.status.as_u16(), 204);
    let left = app.request(Method::GET, "/api/invitations").cookie(&admin).send().await.json();
    assert_eq!(left.as_array().unwrap().len(), 1);
    let accept = json!({ "code": first["code"], "password": "guest password here" });
    let refused = app.request(Method::POST, "/api/auth/invitations/accept").json(accept).send().await;
    assert_eq!(refused.status_code(), (403, "invalid_invitation".into()));
    assert_eq!(
        app.request(Method::DELETE, &path).cookie(&admin).send().await.status_code(),
        (404, "invitation_not_found".into())
    );
    let audit = app.store().audit_log(10, None).unwrap();
    assert!(audit.iter().any(|entry| entry.event == "invitation_revoked"));
}

#[tokio::test]
async fn a_site_owner_sees_and_withdraws_the_invitations_onto_their_site_only() {
    let app = app();
    let admin = app.session(ADMIN);
    let onto_b = app
        .request(Method::POST, "/api/invitations")
        .cookie(&admin)
        .json(json!({ "email": "a-guest@example.com", "site": "a.example", "site_role": "viewer" }))
        .send()
        .await
        .json();
    let elsewhere = app
        .request(Method::POST, "/api/invitations")
        .cookie(&admin)
        .json(json!({ "email": "other@example.com" }))
        .send()
        .await
        .json();
    let owner = app.session(SITE_OWNER);
    // Another site's list is not theirs to see.
    let b = app.request(Method::GET, "/api/sites/b.example/invitations").cookie(&owner).send().await;
    assert_eq!(b.status_code(), (404, "site_not_found".into()));
    let listed = app.request(Method::GET, "/api/sites/a.example/invitations").cookie(&owner).send().await;
    assert_eq!(listed.status.as_u16(), 200);
    let emails: Vec<String> =
        listed.json().as_array().unwrap().iter().map(|i| i["email"].as_str().unwrap().to_owned()).collect();
    assert_eq!(emails, ["a-guest@example.com"]);
    // Not another site's, nor one without a site; not for a viewer.
    let other = format!("/api/sites/a.example/invitations/{}", elsewhere["id"]);
    assert_eq!(
        app.request(Method::DELETE, &other).cookie(&owner).send().await.status_code(),
        (404, "invitation_not_found".into())
    );
    let viewer = app.session(VIEWER);
    let own = format!("/api/sites/a.example/invitations/{}", onto_b["id"]);
    assert_eq!(app.request(Method::DELETE, &own).cookie(&viewer).send().await.status.as_u16(), 403);
    assert_eq!(app.request(Method::DELETE, &own).cookie(&owner).send().await.status.as_u16(), 204);
    let left =
        app.request(Method::GET, "/api/sites/a.example/invitations").cookie(&owner).send().await.json();
    assert_eq!(left, json!([]));
}
