//! People: accounts (instance admins), invitations, and each site's members.
//!
//! Removing a person or taking their role away ends what let them act: the store deletes
//! their sessions and tokens (or their tokens' access to the site) in the same transaction,
//! and the access cache is dropped, so the next request is refused.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use hitkeep_store::{AuditKind, InstanceRole, SiteRole, User};
use serde::{Deserialize, Serialize};

use crate::auth::secret::{SecretKind, digest};
use crate::auth::{InstanceAdmin, NeedsManage, NeedsOwn, SiteAccess};
use crate::error::AppError;
use crate::state::AppState;

/// How long an invitation link works.
pub const INVITATION_DAYS: i64 = 7;

/// The people routes of the API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/users", get(list_users).post(create_user_api))
        .route("/api/users/{id}", put(change_role).delete(remove_user_api))
        .route("/api/invitations", get(pending_invitations).post(invite))
        .route("/api/invitations/{id}", delete(revoke_invitation))
        .route("/api/sites/{domain}/invitations", get(site_invitations))
        .route("/api/sites/{domain}/invitations/{id}", delete(revoke_site_invitation))
        .route("/api/sites/{domain}/members", get(members).post(invite_member))
        .route("/api/sites/{domain}/members/{user_id}", put(set_member).delete(remove_member))
}

/// The operator's people routes on the control socket (`hitkeep user`).
pub fn control_router() -> Router<AppState> {
    Router::new()
        .route("/control/users", get(control_list).post(control_create))
        .route("/control/users/{email}", delete(control_remove))
        .route("/control/users/{email}/factors", delete(control_reset_factors))
        .route("/control/users/{email}/password", put(control_set_password))
}

/// An account as listed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserView {
    /// Account id.
    pub id: u32,
    /// E-mail address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Instance role.
    pub role: String,
    /// Whether it has a password.
    pub has_password: bool,
    /// Created at, ms since the epoch.
    pub created_at_ms: i64,
    /// A generated password, only in the answer to a creation that asked for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated_password: Option<String>,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            email: user.email,
            name: user.name,
            role: user.role.as_str().to_owned(),
            has_password: user.has_password,
            created_at_ms: user.created_at_ms,
            generated_password: None,
        }
    }
}

/// Body of an account creation.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// E-mail address.
    pub email: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Instance role (`member` when absent).
    #[serde(default = "member")]
    pub role: String,
    /// The password; absent: one is generated and answered once.
    #[serde(default)]
    pub password: Option<String>,
}

fn member() -> String {
    "member".into()
}

/// A generated password: 20 characters from a 32-letter alphabet without look-alikes
/// (100 bits).
fn generate_password() -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz23456789-";
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    bytes.iter().map(|byte| ALPHABET[usize::from(byte & 31)] as char).collect()
}

/// Creates an account; `actor` is who asks (`None`: the operator).
async fn create_user(state: &AppState, new: NewUser, actor: Option<&User>) -> Result<UserView, AppError> {
    let role: InstanceRole = new.role.parse()?;
    if actor.is_some_and(|actor| role > actor.role) {
        return Err(AppError::forbidden("insufficient_role", "you cannot give a role above your own"));
    }
    let email = hitkeep_store::normalize_email(&new.email)?;
    let (password, generated) = match new.password {
        Some(password) => (password, None),
        None => {
            let password = generate_password();
            (password.clone(), Some(password))
        }
    };
    let hash = crate::routes::account::new_password_hash(password, &email).await?;
    let now = state.now_ms();
    let actor_id = actor.map(|actor| actor.id);
    let name = new.name;
    let user = state
        .with_store(move |store| {
            let user = store.add_user(&email, &name, Some(&hash), role, now)?;
            store.audit(
                AuditKind::UserCreated,
                Some(user.id),
                actor_id,
                &format!("role={}", role.as_str()),
                now,
            )?;
            Ok::<_, hitkeep_store::Error>(user)
        })
        .await?;
    state.auth.forget();
    Ok(UserView { generated_password: generated, ..user.into() })
}

async fn remove_user(state: &AppState, user_id: u32, actor: Option<&User>) -> Result<UserView, AppError> {
    let now = state.now_ms();
    let actor = actor.cloned();
    let user = state
        .with_store(move |store| {
            let target = store.user(user_id)?;
            if let Some(actor) = &actor
                && target.role > actor.role
            {
                return Err(AppError::forbidden("insufficient_role", "only an owner may remove an owner"));
            }
            let user = store.remove_user(user_id)?;
            store.audit(AuditKind::UserRemoved, Some(user_id), actor.map(|actor| actor.id), "", now)?;
            Ok(user)
        })
        .await?;
    state.auth.forget();
    Ok(user.into())
}

async fn list_users(
    State(state): State<AppState>,
    _admin: InstanceAdmin,
) -> Result<Json<Vec<UserView>>, AppError> {
    let users = state.with_store(|store| store.users()).await?;
    Ok(Json(users.into_iter().map(UserView::from).collect()))
}

async fn create_user_api(
    State(state): State<AppState>,
    InstanceAdmin(admin): InstanceAdmin,
    Json(new): Json<NewUser>,
) -> Result<(StatusCode, Json<UserView>), AppError> {
    Ok((StatusCode::CREATED, Json(create_user(&state, new, Some(admin.user())).await?)))
}

/// Body of a role change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: String,
}

async fn change_role(
    State(state): State<AppState>,
    InstanceAdmin(admin): InstanceAdmin,
    Path(user_id): Path<u32>,
    Json(body): Json<RoleBody>,
) -> Result<Json<UserView>, AppError> {
    let role: InstanceRole = body.role.parse()?;
    let actor = admin.user().clone();
    let now = state.now_ms();
    let user = state
        .with_store(move |store| {
            let target = store.user(user_id)?;
            if actor.role < InstanceRole::Owner
                && (target.role == InstanceRole::Owner || role == InstanceRole::Owner)
            {
                return Err(AppError::forbidden(
                    "insufficient_role",
                    "only an owner may make or unmake owners",
                ));
            }
            let user = store.set_user_role(user_id, role)?;
            store.audit(
                AuditKind::RoleChanged,
                Some(user_id),
                Some(actor.id),
                &format!("role={}", role.as_str()),
                now,
            )?;
            Ok(user)
        })
        .await?;
    state.auth.forget();
    Ok(Json(user.into()))
}

async fn remove_user_api(
    State(state): State<AppState>,
    InstanceAdmin(admin): InstanceAdmin,
    Path(user_id): Path<u32>,
) -> Result<Json<UserView>, AppError> {
    Ok(Json(remove_user(&state, user_id, Some(admin.user())).await?))
}

/// Body of an invitation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InvitationBody {
    email: String,
    /// Instance role of the new account (`member` when absent).
    #[serde(default = "member")]
    role: String,
    /// A site and role on it.
    #[serde(default)]
    site: Option<String>,
    #[serde(default)]
    site_role: Option<String>,
}

/// An invitation as its maker gets it: the link to pass on (shown once).
#[derive(Debug, Serialize, Deserialize)]
pub struct InvitationLink {
    /// The invitation's id (to withdraw it: `DELETE /api/invitations/{id}`).
    pub id: u32,
    /// The path of the page that accepts it (`/invite?code=hki_...`).
    pub path: String,
    /// The code alone.
    pub code: String,
    /// Unusable from then on, ms since the epoch.
    pub expires_at_ms: i64,
    /// The link was also sent to the address (when this instance sends e-mail).
    pub emailed: bool,
}

/// Makes an invitation and, when this instance sends e-mail, mails its link (after the
/// answer; the link is answered either way, to pass on by hand).
async fn make_invitation(
    state: &AppState,
    email: &str,
    role: InstanceRole,
    site: Option<(u32, SiteRole)>,
    invited_by: u32,
) -> Result<InvitationLink, AppError> {
    let code = SecretKind::Invitation.generate();
    let key = digest(&code);
    let now = state.now_ms();
    let expires = now + INVITATION_DAYS * 86_400_000;
    let email = email.to_owned();
    let address = email.clone();
    let (inviter, id) = state
        .with_store(move |store| {
            if store.user_by_email(&email).is_ok() {
                return Err(hitkeep_store::Error::UserExists);
            }
            let invitation =
                store.add_invitation(&key, &email, role, site, Some(invited_by), now, expires)?;
            store.audit(
                AuditKind::InvitationCreated,
                None,
                Some(invited_by),
                &format!("invitation={}", invitation.id),
                now,
            )?;
            Ok((store.user(invited_by)?, invitation.id))
        })
        .await?;
    let path = format!("/invite?code={code}");
    if let Some(mailer) = &state.mailer {
        let by = if inviter.name.is_empty() { inviter.email.clone() } else { inviter.name.clone() };
        let body = format!(
            "{by} invites you to Hitkeep, the web analytics at {base}.\n\n\
             To join, open this link within {INVITATION_DAYS} days and choose a password (it works once):\n\n{base}{path}\n\n\
             If you did not expect this, ignore this message.\n",
            base = mailer.base_url()
        );
        mailer.send_later(address, "You are invited to Hitkeep", body);
    }
    Ok(InvitationLink { id, path, code, expires_at_ms: expires, emailed: state.mailer.is_some() })
}

/// An invitation not used yet, as listed (never its code: only a digest is kept).
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingInvitation {
    /// Its id.
    pub id: u32,
    /// Who is invited.
    pub email: String,
    /// The instance role the account will have.
    pub role: String,
    /// The site the account will have a role on, if any.
    #[serde(default)]
    pub site: Option<String>,
    /// That role.
    #[serde(default)]
    pub site_role: Option<String>,
    /// The account that invited, if a person did.
    #[serde(default)]
    pub invited_by: Option<u32>,
    /// Made at, ms since the epoch.
    pub created_at_ms: i64,
    /// Unusable from then on.
    pub expires_at_ms: i64,
}

/// The pending invitations (to `site` only, when given), as listed.
async fn list_pending(state: &AppState, site: Option<u32>) -> Result<Vec<PendingInvitation>, AppError> {
    let now = state.now_ms();
    let (invitations, sites) = state
        .with_store(move |store| {
            Ok::<_, hitkeep_store::Error>((store.pending_invitations(now)?, store.sites()?))
        })
        .await?;
    let domain = |id: u32| sites.iter().find(|site| site.id == id).map(|site| site.domain.clone());
    Ok(invitations
        .into_iter()
        .filter(|invitation| site.is_none() || invitation.site.map(|(id, _)| id) == site)
        .map(|invitation| PendingInvitation {
            id: invitation.id,
            email: invitation.email,
            role: invitation.role.as_str().to_owned(),
            site: invitation.site.and_then(|(id, _)| domain(id)),
            site_role: invitation.site.map(|(_, role)| role.as_str().to_owned()),
            invited_by: invitation.invited_by,
            created_at_ms: invitation.created_at_ms,
            expires_at_ms: invitation.expires_at_ms,
        })
        .collect())
}

/// Withdraws a pending invitation (to `site` only, when given), recorded as done by `by`;
/// `404 invitation_not_found` when there is no such invitation (there).
async fn withdraw(
    state: &AppState,
    id: u32,
    site: Option<u32>,
    by: Option<u32>,
) -> Result<StatusCode, AppError> {
    let now = state.now_ms();
    let not_found = || {
        AppError::new(StatusCode::NOT_FOUND, "invitation_not_found", format!("no pending invitation {id}"))
    };
    if let Some(site) = site {
        let pending = list_pending(state, Some(site)).await?;
        if !pending.iter().any(|invitation| invitation.id == id) {
            return Err(not_found());
        }
    }
    let withdrawn = state
        .with_store(move |store| match store.revoke_invitation(id, now) {
            Ok(invitation) => {
                store.audit(
                    AuditKind::InvitationRevoked,
                    None,
                    by,
                    &format!("invitation={}", invitation.id),
                    now,
                )?;
                Ok(true)
            }
            Err(hitkeep_store::Error::InvitationInvalid) => Ok(false),
            Err(error) => Err(error),
        })
        .await?;
    withdrawn.then_some(StatusCode::NO_CONTENT).ok_or_else(not_found)
}

/// `GET /api/invitations`: the invitations neither used nor expired, newest first (instance
/// admins).
async fn pending_invitations(
    State(state): State<AppState>,
    _admin: InstanceAdmin,
) -> Result<Json<Vec<PendingInvitation>>, AppError> {
    Ok(Json(list_pending(&state, None).await?))
}

/// `DELETE /api/invitations/{id}`: withdraws an invitation; its link stops working (instance
/// admins). `404 invitation_not_found` when it was used, expired or never was.
async fn revoke_invitation(
    State(state): State<AppState>,
    InstanceAdmin(admin): InstanceAdmin,
    Path(id): Path<u32>,
) -> Result<StatusCode, AppError> {
    withdraw(&state, id, None, Some(admin.user().id)).await
}

/// `GET /api/sites/{domain}/invitations`: the pending invitations onto the site (its owners).
async fn site_invitations(
    State(state): State<AppState>,
    access: SiteAccess<NeedsOwn>,
) -> Result<Json<Vec<PendingInvitation>>, AppError> {
    Ok(Json(list_pending(&state, Some(access.site.id)).await?))
}

/// `DELETE /api/sites/{domain}/invitations/{id}`: withdraws an invitation onto the site (its
/// owners); one onto another site, or none, is `404 invitation_not_found`.
async fn revoke_site_invitation(
    State(state): State<AppState>,
    access: SiteAccess<NeedsOwn>,
    Path((_, id)): Path<(String, u32)>,
) -> Result<StatusCode, AppError> {
    withdraw(&state, id, Some(access.site.id), access.principal.user_id()).await
}

/// `POST /api/invitations`: an instance admin invites someone, optionally onto a site.
async fn invite(
    State(state): State<AppState>,
    InstanceAdmin(admin): InstanceAdmin,
    Json(body): Json<InvitationBody>,
) -> Result<(StatusCode, Json<InvitationLink>), AppError> {
    let role: InstanceRole = body.role.parse()?;
    if role > admin.user().role {
        return Err(AppError::forbidden("insufficient_role", "you cannot give a role above your own"));
    }
    let site = match (body.site, body.site_role) {
        (Some(domain), role) => {
            let site = state.with_store(move |store| store.site(&domain)).await?;
            Some((site.id, role.as_deref().unwrap_or("viewer").parse()?))
        }
        (None, Some(_)) => return Err(AppError::bad_request("invalid_input", "site_role needs a site")),
        (None, None) => None,
    };
    let link = make_invitation(&state, &body.email, role, site, admin.user().id).await?;
    Ok((StatusCode::CREATED, Json(link)))
}

/// A member as a site lists them.
#[derive(Debug, Serialize, Deserialize)]
pub struct MemberView {
    /// Account id.
    pub user_id: u32,
    /// E-mail address.
    pub email: String,
    /// Role on the site.
    pub role: String,
}

async fn members(
    State(state): State<AppState>,
    access: SiteAccess<NeedsManage>,
) -> Result<Json<Vec<MemberView>>, AppError> {
    let site_id = access.site.id;
    let members = state.with_store(move |store| store.site_members(site_id)).await?;
    Ok(Json(
        members
            .into_iter()
            .map(|m| MemberView { user_id: m.user_id, email: m.email, role: m.role.as_str().to_owned() })
            .collect(),
    ))
}

/// Body of a site invitation (`POST /api/sites/{domain}/members`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberInvitation {
    email: String,
    #[serde(default = "viewer")]
    role: String,
}

fn viewer() -> String {
    "viewer".into()
}

/// A site owner adds someone: an existing account gets the role at once, anyone else an
/// invitation (a new `member` account with that role on the site).
async fn invite_member(
    State(state): State<AppState>,
    access: SiteAccess<NeedsOwn>,
    Json(body): Json<MemberInvitation>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let role: SiteRole = body.role.parse()?;
    let actor = access.principal.user_id().ok_or_else(|| {
        AppError::forbidden("person_required", "members are added by people signed in, not API tokens")
    })?;
    let email = hitkeep_store::normalize_email(&body.email)?;
    let lookup = email.clone();
    let existing = state
        .with_store(move |store| Ok::<_, hitkeep_store::Error>(store.user_by_email(&lookup).ok()))
        .await?;
    if let Some(user) = existing {
        set_site_role(&state, access.site.id, user.id, Some(role), actor).await?;
        return Ok((StatusCode::OK, Json(serde_json::json!({ "user_id": user.id, "role": role.as_str() }))));
    }
    let link =
        make_invitation(&state, &email, InstanceRole::Member, Some((access.site.id, role)), actor).await?;
    Ok((StatusCode::CREATED, Json(serde_json::to_value(link).map_err(AppError::internal)?)))
}

async fn set_site_role(
    state: &AppState,
    site_id: u32,
    user_id: u32,
    role: Option<SiteRole>,
    actor: u32,
) -> Result<(), AppError> {
    let now = state.now_ms();
    state
        .with_store(move |store| {
            match role {
                Some(role) => store.set_site_member(site_id, user_id, role, now)?,
                None => store.remove_site_member(site_id, user_id)?,
            }
            let detail = format!("site={site_id} role={}", role.map_or("none", SiteRole::as_str));
            store.audit(AuditKind::SiteRoleChanged, Some(user_id), Some(actor), &detail, now)
        })
        .await?;
    state.auth.forget();
    Ok(())
}

async fn set_member(
    State(state): State<AppState>,
    access: SiteAccess<NeedsOwn>,
    Path((_domain, user_id)): Path<(String, u32)>,
    Json(body): Json<RoleBody>,
) -> Result<StatusCode, AppError> {
    let role: SiteRole = body.role.parse()?;
    let actor =
        access.principal.user_id().ok_or_else(|| AppError::forbidden("person_required", "people only"))?;
    set_site_role(&state, access.site.id, user_id, Some(role), actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_member(
    State(state): State<AppState>,
    access: SiteAccess<NeedsOwn>,
    Path((_domain, user_id)): Path<(String, u32)>,
) -> Result<StatusCode, AppError> {
    let actor =
        access.principal.user_id().ok_or_else(|| AppError::forbidden("person_required", "people only"))?;
    set_site_role(&state, access.site.id, user_id, None, actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn control_list(State(state): State<AppState>) -> Result<Json<Vec<UserView>>, AppError> {
    let users = state.with_store(|store| store.users()).await?;
    Ok(Json(users.into_iter().map(UserView::from).collect()))
}

async fn control_create(
    State(state): State<AppState>,
    Json(new): Json<NewUser>,
) -> Result<(StatusCode, Json<UserView>), AppError> {
    Ok((StatusCode::CREATED, Json(create_user(&state, new, None).await?)))
}

async fn control_remove(
    State(state): State<AppState>,
    Path(email): Path<String>,
) -> Result<Json<UserView>, AppError> {
    let user = state.with_store(move |store| store.user_by_email(&email)).await?;
    Ok(Json(remove_user(&state, user.id, None).await?))
}

/// Body of the operator's password change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetPassword {
    /// The new password; none: generate one (answered once).
    #[serde(default)]
    password: Option<String>,
}

/// `hitkeep user set-password`: sets a password and ends the person's sessions.
async fn control_set_password(
    State(state): State<AppState>,
    Path(email): Path<String>,
    Json(body): Json<SetPassword>,
) -> Result<Json<UserView>, AppError> {
    let user = state.with_store(move |store| store.user_by_email(&email)).await?;
    let (password, generated) = match body.password {
        Some(password) => (password, None),
        None => {
            let password = generate_password();
            (password.clone(), Some(password))
        }
    };
    let hash = crate::routes::account::new_password_hash(password, &user.email).await?;
    let (user_id, now) = (user.id, state.now_ms());
    state
        .with_store(move |store| {
            store.set_password_hash(user_id, &hash)?;
            store.remove_sessions_of(user_id, None)?;
            store.audit(AuditKind::PasswordChanged, Some(user_id), None, "by=operator", now)
        })
        .await?;
    state.auth.forget();
    Ok(Json(UserView { generated_password: generated, ..UserView::from(user) }))
}

async fn control_reset_factors(
    State(state): State<AppState>,
    Path(email): Path<String>,
) -> Result<Json<UserView>, AppError> {
    let user = crate::routes::factors::reset_factors(&state, email).await?;
    Ok(Json(UserView::from(user)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_passwords_are_long_and_random() {
        let (a, b) = (super::generate_password(), super::generate_password());
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert!(crate::auth::password::check_new(&a, "x@example.com").is_ok());
    }
}
