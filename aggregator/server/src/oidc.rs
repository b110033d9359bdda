//! Single sign-on with any OpenID Connect provider, by its issuer URL: discovery, the
//! authorization code flow with PKCE, `state` and `nonce`, and the ID token checked against
//! the provider's keys (the `openidconnect` crate).
//!
//! Accounts are linked by verified e-mail address: the first sign-in of a provider's subject
//! whose verified address is an account's links the two, and later sign-ins find the account
//! by the subject even when the address changes. Nobody gets an account by signing in; they
//! are invited first, as with passwords.
//!
//! Every call to the provider has a time limit and a size limit, follows no redirect, and
//! neither tokens nor addresses are logged or stored. A flow under way is kept in this
//! process's memory, bound to the browser that began it by a cookie, for
//! [`FLOW_TTL_MS`], once.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AsyncHttpClient, AuthorizationCode, ClientId, ClientSecret, CsrfToken, HttpRequest, HttpResponse,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};

/// How long a sign-in may take at the provider.
pub const FLOW_TTL_MS: i64 = 10 * 60_000;
/// Flows under way at most.
pub const MAX_FLOWS: usize = 10_000;
/// How long the provider's metadata and keys are kept before they are fetched again.
pub const METADATA_TTL: Duration = Duration::from_secs(3600);
/// The largest answer taken from the provider.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// The time limit of each call to the provider.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The provider, as configured.
#[derive(Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// Its issuer URL (`https://sso.example.com/realms/acme`).
    pub issuer: String,
    /// This instance's client id there.
    pub client_id: String,
    /// Its client secret (none: a public client, PKCE alone).
    pub client_secret: Option<String>,
    /// What the sign-in button says after "Sign in with" (`Acme SSO`).
    pub name: String,
    /// Only single sign-on: password sign-in is refused.
    pub only: bool,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "<redacted>"))
            .field("name", &self.name)
            .field("only", &self.only)
            .finish()
    }
}

/// Why a sign-in with the provider failed.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// A setting is not valid.
    #[error("oidc configuration: {0}")]
    Config(String),
    /// The provider could not be reached or answered something unusable.
    #[error("the identity provider: {0}")]
    Provider(String),
    /// The flow is unknown, used, expired, or was begun in another browser.
    #[error("this sign-in was not begun here, was used, or has expired")]
    State,
    /// The provider's answer does not verify (ID token, nonce, subject).
    #[error("the identity provider's answer does not verify: {0}")]
    Invalid(String),
    /// The provider gave no e-mail address, or one it has not verified.
    #[error("the identity provider did not give a verified e-mail address")]
    Unverified,
    /// Too many flows under way.
    #[error("too many sign-ins under way")]
    Busy,
}

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The provider's issuer.
    pub issuer: String,
    /// Its subject (stable id of the person there).
    pub subject: String,
    /// Their verified e-mail address.
    pub email: String,
}

/// An HTTP client for the provider: bounded in time and size, no redirects.
#[derive(Debug, Clone)]
struct Http(reqwest::Client);

/// What went wrong in a call to the provider.
#[derive(Debug, thiserror::Error)]
enum HttpError {
    #[error("{0}")]
    Request(#[from] reqwest::Error),
    #[error("the answer is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    #[error("{0}")]
    Http(#[from] openidconnect::http::Error),
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)?;
            let mut response = self.0.execute(request).await?;
            let mut answer = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                answer = answer.header(name, value);
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(HttpError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(answer.body(body)?)
        })
    }
}

struct Flow {
    verifier: PkceCodeVerifier,
    nonce: Nonce,
    browser: [u8; 32],
    expires_at_ms: i64,
}

/// The provider of this instance, and the sign-ins under way.
pub struct Oidc {
    /// Its settings.
    pub settings: OidcSettings,
    issuer: IssuerUrl,
    redirect: RedirectUrl,
    http: Http,
    metadata: tokio::sync::Mutex<Option<(CoreProviderMetadata, Instant)>>,
    flows: Mutex<HashMap<String, Flow>>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc").field("settings", &self.settings).finish_non_exhaustive()
    }
}

fn provider(error: impl std::fmt::Display) -> OidcError {
    OidcError::Provider(error.to_string())
}

impl Oidc {
    /// The provider of `settings`; the provider sends people back to
    /// `{base_url}/login/oidc/callback`. Nothing is fetched until the first sign-in.
    pub fn new(settings: OidcSettings, base_url: &str) -> Result<Self, OidcError> {
        let issuer = IssuerUrl::new(settings.issuer.clone())
            .map_err(|e| OidcError::Config(format!("oidc_issuer: {e}")))?;
        let redirect = RedirectUrl::new(format!("{}/login/oidc/callback", base_url.trim_end_matches('/')))
            .map_err(|e| OidcError::Config(format!("the callback URL: {e}")))?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(CALL_TIMEOUT)
            .connect_timeout(CALL_TIMEOUT)
            .user_agent("hitkeep")
            .build()
            .map_err(|e| OidcError::Config(e.to_string()))?;
        Ok(Self {
            settings,
            issuer,
            redirect,
            http: Http(client),
            metadata: tokio::sync::Mutex::new(None),
            flows: Mutex::new(HashMap::new()),
        })
    }

    /// Where the provider sends people back.
    pub fn redirect_url(&self) -> &str {
        self.redirect.as_str()
    }

    async fn metadata(&self, refresh: bool) -> Result<CoreProviderMetadata, OidcError> {
        let mut cached = self.metadata.lock().await;
        if let Some((metadata, fetched)) = cached.as_ref()
            && !refresh
            && fetched.elapsed() < METADATA_TTL
        {
            return Ok(metadata.clone());
        }
        let metadata =
            CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http).await.map_err(provider)?;
        *cached = Some((metadata.clone(), Instant::now()));
        Ok(metadata)
    }

    fn client(
        &self,
        metadata: CoreProviderMetadata,
    ) -> CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            self.settings.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    /// Begins a sign-in: the provider's URL to send the browser to, and the `browser` secret
    /// (for a cookie) that the callback must bring back.
    pub async fn begin(&self, browser: [u8; 32], now_ms: i64) -> Result<String, OidcError> {
        let client = self.client(self.metadata(false).await?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        let mut flows = self.flows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if flows.len() >= MAX_FLOWS {
            flows.retain(|_, flow| flow.expires_at_ms > now_ms);
            if flows.len() >= MAX_FLOWS {
                return Err(OidcError::Busy);
            }
        }
        flows.insert(
            state.secret().clone(),
            Flow { verifier, nonce, browser, expires_at_ms: now_ms + FLOW_TTL_MS },
        );
        Ok(url.to_string())
    }

    /// Finishes a sign-in with the provider's `code` and `state`, in the browser that began
    /// it: who signed in.
    pub async fn finish(
        &self,
        code: &str,
        state: &str,
        browser: [u8; 32],
        now_ms: i64,
    ) -> Result<Identity, OidcError> {
        let flow = self.flows.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(state);
        let flow = flow
            .filter(|flow| flow.expires_at_ms > now_ms && flow.browser == browser)
            .ok_or(OidcError::State)?;
        let metadata = self.metadata(false).await?;
        let client = self.client(metadata);
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(provider)?
            .set_pkce_verifier(flow.verifier)
            .request_async(&self.http)
            .await
            .map_err(|error| OidcError::Provider(format!("the token request: {error}")))?;
        let id_token = token.id_token().ok_or_else(|| OidcError::Invalid("no ID token".into()))?;
        let claims = match id_token.claims(&client.id_token_verifier(), &flow.nonce) {
            Ok(claims) => claims.clone(),
            // The provider may have rotated its keys since they were fetched.
            Err(_) => {
                let client = self.client(self.metadata(true).await?);
                id_token
                    .claims(&client.id_token_verifier(), &flow.nonce)
                    .map_err(|error| OidcError::Invalid(error.to_string()))?
                    .clone()
            }
        };
        let subject = claims.subject().clone();
        let (mut email, mut verified) =
            (claims.email().map(|email| email.to_string()), claims.email_verified());
        if email.is_none() {
            // Providers that keep the ID token small give the address from the userinfo
            // endpoint, for the same subject only.
            let info: CoreUserInfoClaims = client
                .user_info(token.access_token().clone(), Some(subject.clone()))
                .map_err(provider)?
                .request_async(&self.http)
                .await
                .map_err(|error| OidcError::Provider(format!("the userinfo request: {error}")))?;
            email = info.email().map(|email| email.to_string());
            verified = info.email_verified();
        }
        let email = email.filter(|_| verified == Some(true)).ok_or(OidcError::Unverified)?;
        Ok(Identity {
            issuer: claims.issuer().as_str().to_owned(),
            subject: subject.as_str().to_owned(),
            email,
        })
    }
}
