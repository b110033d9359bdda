//! Outgoing e-mail over SMTP: password resets and invitations (plain text, in English, with
//! the one link they are about), and reports and alerts (`crate::reports`: plain text and
//! HTML, in the recipient's language, with an unsubscribe link and its one-click header).
//! Links are built
//! from the configured base URL (`public_url`, else the bound address), never from a
//! request's `Host`, so that nobody can have a reset mail point elsewhere. Sending has a
//! time limit, happens after the HTTP answer (whose timing must not tell whether an account
//! exists), and logs neither addresses nor links.

use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

/// How long one message may take to hand over.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(20);

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, refused if the server cannot (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same machine or network.
    None,
}

/// The SMTP server and the sender.
#[derive(Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// Host name of the SMTP server (also the name its certificate must have).
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Connection protection.
    pub tls: SmtpTls,
    /// User name and password, if the server wants them.
    pub credentials: Option<(String, String)>,
    /// The sender (`Hitkeep <stats@example.com>`).
    pub from: String,
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.credentials.as_ref().map(|(user, _)| user))
            .field("from", &self.from)
            .finish()
    }
}

/// Why mail could not be set up or sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The sender is not an address.
    #[error("smtp_from is not an e-mail address: {0}")]
    From(String),
    /// The recipient is not an address.
    #[error("the recipient is not an e-mail address")]
    To,
    /// The SMTP server refused or could not be reached.
    #[error("smtp: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    /// The SMTP server took too long.
    #[error("the SMTP server did not answer in time")]
    Timeout,
    /// The message could not be built.
    #[error("building the message: {0}")]
    Message(#[from] lettre::error::Error),
}

/// Sends this instance's mail.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    base_url: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl Mailer {
    /// A mailer for these settings; links in its messages start with `base_url`.
    pub fn new(settings: &MailSettings, base_url: String) -> Result<Self, MailError> {
        let from: Mailbox = settings.from.parse().map_err(|_| MailError::From(settings.from.clone()))?;
        let builder = match settings.tls {
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host)?,
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host),
        };
        let mut builder = builder.port(settings.port).timeout(Some(SEND_TIMEOUT));
        if let Some((user, password)) = &settings.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Self { transport: builder.build(), from, base_url: base_url.trim_end_matches('/').to_owned() })
    }

    /// Where links in messages point (`https://stats.example.com`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends a plain-text message.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        let to: Mailbox = to.parse().map_err(|_| MailError::To)?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)?;
        tokio::time::timeout(SEND_TIMEOUT * 2, self.transport.send(message))
            .await
            .map_err(|_| MailError::Timeout)??;
        Ok(())
    }

    /// Sends a report or an alert: `multipart/alternative` (plain text first, then HTML),
    /// with a `Message-ID` made from `id` (the outbox row, so that a client could tell a
    /// copy) and RFC 8058 one-click unsubscribe headers.
    pub async fn send_mailing(
        &self,
        to: &str,
        id: &str,
        message: &crate::reports::render::Rendered,
        unsubscribe_url: &str,
    ) -> Result<(), MailError> {
        let to: Mailbox = to.parse().map_err(|_| MailError::To)?;
        let domain = self.from.email.domain().to_owned();
        let header =
            |name: &'static str, value: String| HeaderValue::new(HeaderName::new_from_ascii_str(name), value);
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .message_id(Some(format!("<{id}@{domain}>")))
            .raw_header(header("List-Unsubscribe", format!("<{unsubscribe_url}>")))
            .raw_header(header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".into()))
            .raw_header(header("Auto-Submitted", "auto-generated".into()))
            .multipart(MultiPart::alternative_plain_html(message.text.clone(), message.html.clone()))?;
        tokio::time::timeout(SEND_TIMEOUT * 2, self.transport.send(message))
            .await
            .map_err(|_| MailError::Timeout)??;
        Ok(())
    }

    /// Sends in the background, after the answer; a failure is logged without the address.
    pub fn send_later(&self, to: String, subject: &'static str, body: String) {
        let mailer = self.clone();
        tokio::spawn(async move {
            match mailer.send(&to, subject, body).await {
                Ok(()) => tracing::info!(subject, "mail sent"),
                Err(error) => tracing::warn!(subject, %error, "mail not sent"),
            }
        });
    }
}
