//! Scheduled mail: e-mail reports (a site's numbers, daily, weekly or monthly, per recipient)
//! and alerts (current visitors above a threshold, a day far below its usual traffic), and
//! the outbox both go through.
//!
//! The outbox is what makes sending exactly-once across restarts. A message is a row keyed
//! by what it is about: `(kind, subscription or alert, period start)` is unique, so the
//! scheduler may propose the same report any number of times (every tick, after every
//! restart) and the database keeps one. Its body is not stored: it is drawn when it is sent,
//! with a fresh unsubscribe secret whose digest the row keeps, so the database holds no
//! secret in clear. A row goes `queued` → `sending` (claimed, in its own transaction, before
//! the SMTP exchange) → `sent`. A process that dies during the exchange leaves a `sending`
//! row; at the next start it becomes `interrupted` and is not sent again: the server may or
//! may not have taken it, and a report twice is the worse mistake (the log says so).

use duckdb::{OptionalExt, params};

use crate::{Error, Result, Store, in_transaction, normalize_email};

/// Languages mail is written in.
pub const MAIL_LANGUAGES: [&str; 5] = ["en", "de", "es", "fr", "it"];
/// The most report subscriptions and alerts a site may have, each.
pub const MAX_MAILINGS_PER_SITE: usize = 100;
/// The highest threshold of an alert.
pub const MAX_ALERT_THRESHOLD: u32 = 10_000_000;
/// Attempts at a message before it is given up.
pub const MAX_ATTEMPTS: u32 = 6;

/// How often a report is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    /// The day before, every morning.
    Daily,
    /// The week before (Monday to Sunday), on Mondays.
    Weekly,
    /// The month before, on the first.
    Monthly,
}

impl Frequency {
    fn code(self) -> u8 {
        match self {
            Self::Daily => 1,
            Self::Weekly => 2,
            Self::Monthly => 3,
        }
    }

    fn from_code(code: u8) -> Self {
        match code {
            1 => Self::Daily,
            2 => Self::Weekly,
            _ => Self::Monthly,
        }
    }
}

/// What an alert watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Visitors of the last five minutes above `threshold`.
    VisitorsAbove,
    /// A whole day's visitors below `threshold` percent of the usual (the median of the same
    /// weekday in the four weeks before).
    TrafficDrop,
}

impl AlertKind {
    fn code(self) -> u8 {
        match self {
            Self::VisitorsAbove => 1,
            Self::TrafficDrop => 2,
        }
    }

    fn from_code(code: u8) -> Self {
        if code == 1 { Self::VisitorsAbove } else { Self::TrafficDrop }
    }
}

/// An alert to add.
#[derive(Debug, Clone, Copy)]
pub struct NewAlert<'a> {
    /// Where it goes.
    pub email: &'a str,
    /// The language it is written in.
    pub language: &'a str,
    /// What it watches.
    pub kind: AlertKind,
    /// Visitors, or a percentage of the usual day.
    pub threshold: u32,
}

/// A recipient of a site's report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReportSubscription {
    /// Row id.
    pub id: u32,
    /// The site reported on.
    pub site_id: u32,
    /// Where it goes.
    pub email: String,
    /// How often.
    pub frequency: Frequency,
    /// The language it is written in (`en`, `de`, `es`, `fr`, `it`).
    pub language: String,
    /// Added at, ms since the epoch: periods due before are not sent.
    pub created_at_ms: i64,
}

/// An alert on a site.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Alert {
    /// Row id.
    pub id: u32,
    /// The site watched.
    pub site_id: u32,
    /// Where it goes.
    pub email: String,
    /// The language it is written in.
    pub language: String,
    /// What it watches.
    pub kind: AlertKind,
    /// Visitors (`visitors_above`) or a percentage of the usual (`traffic_drop`).
    pub threshold: u32,
    /// When the episode under way began (the condition held at the last check), if any.
    pub episode_start_ms: Option<i64>,
    /// Added at, ms since the epoch.
    pub created_at_ms: i64,
}

/// What a message of the outbox is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailKind {
    /// A report; `ref_id` is the subscription.
    Report,
    /// An alert; `ref_id` is the alert.
    Alert,
}

impl MailKind {
    fn code(self) -> u8 {
        match self {
            Self::Report => 1,
            Self::Alert => 2,
        }
    }

    fn from_code(code: u8) -> Self {
        if code == 1 { Self::Report } else { Self::Alert }
    }
}

/// Where a message of the outbox is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailStatus {
    /// Waiting for its turn (or for its next attempt).
    Queued,
    /// Claimed by a sender.
    Sending,
    /// Handed to the SMTP server.
    Sent,
    /// Given up after [`MAX_ATTEMPTS`].
    Failed,
    /// The process stopped while sending it; not sent again.
    Interrupted,
    /// Its subscription or alert went away before it was sent.
    Cancelled,
}

impl MailStatus {
    fn code(self) -> u8 {
        match self {
            Self::Queued => 0,
            Self::Sending => 1,
            Self::Sent => 2,
            Self::Failed => 3,
            Self::Interrupted => 4,
            Self::Cancelled => 5,
        }
    }

    fn from_code(code: u8) -> Self {
        match code {
            0 => Self::Queued,
            1 => Self::Sending,
            2 => Self::Sent,
            3 => Self::Failed,
            4 => Self::Interrupted,
            _ => Self::Cancelled,
        }
    }
}

/// A message of the outbox.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OutboxMail {
    /// Row id (also in the message's `Message-ID`).
    pub id: u64,
    /// What it is.
    pub kind: MailKind,
    /// The subscription or alert.
    pub ref_id: u32,
    /// The report's period or the alert's episode, ms since the epoch: `[start, end)`.
    pub period_start_ms: i64,
    /// See `period_start_ms`.
    pub period_end_ms: i64,
    /// What the alert saw (visitors now, or the day's visitors).
    pub value: Option<f64>,
    /// What the alert compared it with (the usual day's visitors).
    pub baseline: Option<f64>,
    /// Where it is.
    pub status: MailStatus,
    /// Attempts made.
    pub attempts: u32,
    /// Queued at, ms since the epoch.
    pub created_at_ms: i64,
    /// Sent at.
    pub sent_at_ms: Option<i64>,
    /// Why the last attempt failed (never an address).
    pub last_error: Option<String>,
}

/// What an unsubscribe link stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsubscribed {
    /// A report subscription (it was removed now, or before).
    Report {
        /// The site's domain, if the site still exists.
        domain: Option<String>,
        /// The language of the mail.
        language: String,
        /// Whether this call removed it (false: gone already).
        removed: bool,
    },
    /// An alert.
    Alert {
        /// The site's domain, if it still exists.
        domain: Option<String>,
        /// The language of the mail.
        language: String,
        /// Whether this call removed it.
        removed: bool,
    },
}

/// Checks a mail language.
pub fn validate_language(language: &str) -> Result<()> {
    if MAIL_LANGUAGES.contains(&language) {
        Ok(())
    } else {
        Err(Error::Invalid { field: "language", reason: format!("one of {}", MAIL_LANGUAGES.join(", ")) })
    }
}

const SUBSCRIPTION_COLUMNS: &str = "id, site_id, email, frequency, language, created_at_ms";
const ALERT_COLUMNS: &str = "id, site_id, email, language, kind, threshold, episode_start_ms, created_at_ms";
const OUTBOX_COLUMNS: &str = "id, kind, ref_id, period_start_ms, period_end_ms, value, baseline, status, \
     attempts, created_at_ms, sent_at_ms, last_error";

fn subscription_from_row(row: &duckdb::Row<'_>) -> duckdb::Result<ReportSubscription> {
    Ok(ReportSubscription {
        id: row.get(0)?,
        site_id: row.get(1)?,
        email: row.get(2)?,
        frequency: Frequency::from_code(row.get(3)?),
        language: row.get(4)?,
        created_at_ms: row.get(5)?,
    })
}

fn alert_from_row(row: &duckdb::Row<'_>) -> duckdb::Result<Alert> {
    Ok(Alert {
        id: row.get(0)?,
        site_id: row.get(1)?,
        email: row.get(2)?,
        language: row.get(3)?,
        kind: AlertKind::from_code(row.get(4)?),
        threshold: row.get(5)?,
        episode_start_ms: row.get(6)?,
        created_at_ms: row.get(7)?,
    })
}

fn outbox_from_row(row: &duckdb::Row<'_>) -> duckdb::Result<OutboxMail> {
    Ok(OutboxMail {
        id: row.get(0)?,
        kind: MailKind::from_code(row.get(1)?),
        ref_id: row.get(2)?,
        period_start_ms: row.get(3)?,
        period_end_ms: row.get(4)?,
        value: row.get(5)?,
        baseline: row.get(6)?,
        status: MailStatus::from_code(row.get(7)?),
        attempts: row.get(8)?,
        created_at_ms: row.get(9)?,
        sent_at_ms: row.get(10)?,
        last_error: row.get(11)?,
    })
}

/// The wait before attempt `attempts + 1`: 1, 5, 15, 60, 240 minutes.
pub fn retry_delay_ms(attempts: u32) -> i64 {
    const MINUTES: [i64; 5] = [1, 5, 15, 60, 240];
    MINUTES[(attempts.saturating_sub(1) as usize).min(MINUTES.len() - 1)] * 60_000
}

impl Store {
    /// Adds a recipient of a site's report.
    pub fn add_report_subscription(
        &self,
        site_id: u32,
        email: &str,
        frequency: Frequency,
        language: &str,
        created_by: Option<u32>,
        now_ms: i64,
    ) -> Result<ReportSubscription> {
        let email = normalize_email(email)?;
        validate_language(language)?;
        let conn = self.conn();
        check_room(&conn, Mailing::Report, site_id, &email, frequency.code())?;
        let subscription = conn.query_row(
            &format!(
                "INSERT INTO report_subscriptions (site_id, email, frequency, language, created_by, created_at_ms)
                 VALUES (?, ?, ?, ?, ?, ?) RETURNING {SUBSCRIPTION_COLUMNS}"
            ),
            params![site_id, email, frequency.code(), language, created_by, now_ms],
            subscription_from_row,
        )?;
        tracing::info!(site_id, subscription = subscription.id, ?frequency, "report recipient added");
        Ok(subscription)
    }

    /// The recipients of a site's reports (all sites' with `None`), oldest first.
    pub fn report_subscriptions(&self, site_id: Option<u32>) -> Result<Vec<ReportSubscription>> {
        let conn = self.conn();
        let mut statement = conn.prepare(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM report_subscriptions
             WHERE ?::UINTEGER IS NULL OR site_id = ? ORDER BY id"
        ))?;
        let rows = statement.query_map(params![site_id, site_id], subscription_from_row)?;
        Ok(rows.collect::<duckdb::Result<Vec<_>>>()?)
    }

    /// One report subscription.
    pub fn report_subscription(&self, id: u32) -> Result<Option<ReportSubscription>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {SUBSCRIPTION_COLUMNS} FROM report_subscriptions WHERE id = ?"),
                [id],
                subscription_from_row,
            )
            .optional()?)
    }

    /// Removes a recipient of a site's report; what was queued for it is not sent.
    pub fn remove_report_subscription(&self, site_id: u32, id: u32) -> Result<()> {
        let removed = in_transaction(&self.conn(), |conn| {
            let removed = conn.execute(
                "DELETE FROM report_subscriptions WHERE site_id = ? AND id = ?",
                params![site_id, id],
            )?;
            if removed > 0 {
                cancel_queued(conn, MailKind::Report, id)?;
            }
            Ok(removed)
        })?;
        if removed == 0 {
            return Err(Error::MailingNotFound);
        }
        tracing::info!(site_id, subscription = id, "report recipient removed");
        Ok(())
    }

    /// Adds an alert on a site.
    pub fn add_alert(
        &self,
        site_id: u32,
        new: &NewAlert<'_>,
        created_by: Option<u32>,
        now_ms: i64,
    ) -> Result<Alert> {
        let NewAlert { email, language, kind, threshold } = *new;
        let email = normalize_email(email)?;
        validate_language(language)?;
        let valid = match kind {
            AlertKind::VisitorsAbove => (1..=MAX_ALERT_THRESHOLD).contains(&threshold),
            AlertKind::TrafficDrop => (1..=99).contains(&threshold),
        };
        if !valid {
            return Err(Error::Invalid {
                field: "alert",
                reason: match kind {
                    AlertKind::VisitorsAbove => format!("threshold: 1 to {MAX_ALERT_THRESHOLD} visitors"),
                    AlertKind::TrafficDrop => "threshold: 1 to 99 percent of the usual day".into(),
                },
            });
        }
        let conn = self.conn();
        check_room(&conn, Mailing::Alert, site_id, &email, kind.code())?;
        let alert = conn.query_row(
            &format!(
                "INSERT INTO site_alerts (site_id, email, language, kind, threshold, created_by, created_at_ms)
                 VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {ALERT_COLUMNS}"
            ),
            params![site_id, email, language, kind.code(), threshold, created_by, now_ms],
            alert_from_row,
        )?;
        tracing::info!(site_id, alert = alert.id, ?kind, threshold, "alert added");
        Ok(alert)
    }

    /// A site's alerts (all sites' with `None`), oldest first.
    pub fn alerts(&self, site_id: Option<u32>) -> Result<Vec<Alert>> {
        let conn = self.conn();
        let mut statement = conn.prepare(&format!(
            "SELECT {ALERT_COLUMNS} FROM site_alerts WHERE ?::UINTEGER IS NULL OR site_id = ? ORDER BY id"
        ))?;
        let rows = statement.query_map(params![site_id, site_id], alert_from_row)?;
        Ok(rows.collect::<duckdb::Result<Vec<_>>>()?)
    }

    /// One alert.
    pub fn alert(&self, id: u32) -> Result<Option<Alert>> {
        Ok(self
            .conn()
            .query_row(&format!("SELECT {ALERT_COLUMNS} FROM site_alerts WHERE id = ?"), [id], alert_from_row)
            .optional()?)
    }

    /// Removes an alert; what was queued for it is not sent.
    pub fn remove_alert(&self, site_id: u32, id: u32) -> Result<()> {
        let removed = in_transaction(&self.conn(), |conn| {
            let removed =
                conn.execute("DELETE FROM site_alerts WHERE site_id = ? AND id = ?", params![site_id, id])?;
            if removed > 0 {
                cancel_queued(conn, MailKind::Alert, id)?;
            }
            Ok(removed)
        })?;
        if removed == 0 {
            return Err(Error::MailingNotFound);
        }
        tracing::info!(site_id, alert = id, "alert removed");
        Ok(())
    }

    /// Records what an alert's check found: an episode that begins queues its message (in
    /// the same transaction, keyed by the episode's start, so it is queued once), one that
    /// ends is closed. Returns whether a message was queued.
    pub fn record_alert_check(
        &self,
        alert_id: u32,
        firing: Option<AlertFiring>,
        now_ms: i64,
    ) -> Result<bool> {
        in_transaction(&self.conn(), |conn| {
            let current: Option<Option<i64>> = conn
                .query_row("SELECT episode_start_ms FROM site_alerts WHERE id = ?", [alert_id], |row| {
                    row.get(0)
                })
                .optional()?;
            let Some(episode) = current else { return Ok(false) };
            match (episode, firing) {
                (None, Some(firing)) => {
                    conn.execute(
                        "UPDATE site_alerts SET episode_start_ms = ? WHERE id = ?",
                        params![firing.episode_start_ms, alert_id],
                    )?;
                    let queued = conn.execute(
                        "INSERT INTO mail_outbox (kind, ref_id, period_start_ms, period_end_ms, value, baseline,
                             status, attempts, next_attempt_ms, created_at_ms)
                         VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?, ?) ON CONFLICT DO NOTHING",
                        params![
                            MailKind::Alert.code(),
                            alert_id,
                            firing.episode_start_ms,
                            firing.episode_end_ms,
                            firing.value,
                            firing.baseline,
                            now_ms,
                            now_ms
                        ],
                    )?;
                    Ok(queued > 0)
                }
                (Some(_), None) => {
                    conn.execute("UPDATE site_alerts SET episode_start_ms = NULL WHERE id = ?", [alert_id])?;
                    Ok(false)
                }
                _ => Ok(false),
            }
        })
    }

    /// Queues a site's report for a period, unless it was queued before (then nothing
    /// changes). Returns whether it was queued now.
    pub fn queue_report(
        &self,
        subscription_id: u32,
        start_ms: i64,
        end_ms: i64,
        now_ms: i64,
    ) -> Result<bool> {
        let queued = self.conn().execute(
            "INSERT INTO mail_outbox (kind, ref_id, period_start_ms, period_end_ms, status, attempts,
                 next_attempt_ms, created_at_ms)
             SELECT ?, id, ?, ?, 0, 0, ?, ? FROM report_subscriptions WHERE id = ?
             ON CONFLICT DO NOTHING",
            params![MailKind::Report.code(), start_ms, end_ms, now_ms, now_ms, subscription_id],
        )?;
        Ok(queued > 0)
    }

    /// The messages due for sending, oldest first.
    pub fn due_mail(&self, now_ms: i64, limit: usize) -> Result<Vec<OutboxMail>> {
        let conn = self.conn();
        let mut statement = conn.prepare(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM mail_outbox WHERE status = 0 AND next_attempt_ms <= ? ORDER BY id LIMIT ?"
        ))?;
        let rows = statement.query_map(params![now_ms, limit as u64], outbox_from_row)?;
        Ok(rows.collect::<duckdb::Result<Vec<_>>>()?)
    }

    /// The outbox, newest first (for the operator and tests).
    pub fn outbox(&self, limit: usize) -> Result<Vec<OutboxMail>> {
        let conn = self.conn();
        let mut statement =
            conn.prepare(&format!("SELECT {OUTBOX_COLUMNS} FROM mail_outbox ORDER BY id DESC LIMIT ?"))?;
        let rows = statement.query_map([limit as u64], outbox_from_row)?;
        Ok(rows.collect::<duckdb::Result<Vec<_>>>()?)
    }

    /// Claims a queued message for sending, with the digest of the unsubscribe secret its
    /// body will hold; false when it is not queued any more.
    pub fn claim_mail(&self, id: u64, unsubscribe_sha256: &[u8; 32]) -> Result<bool> {
        let claimed = self.conn().execute(
            "UPDATE mail_outbox SET status = 1, attempts = attempts + 1, unsubscribe_sha256 = ?
             WHERE id = ? AND status = 0",
            params![unsubscribe_sha256.as_slice(), id],
        )?;
        Ok(claimed > 0)
    }

    /// Records that a claimed message was sent.
    pub fn mail_sent(&self, id: u64, now_ms: i64) -> Result<()> {
        self.conn().execute(
            "UPDATE mail_outbox SET status = 2, sent_at_ms = ?, last_error = NULL WHERE id = ?",
            params![now_ms, id],
        )?;
        Ok(())
    }

    /// Records that a claimed message could not be sent: queued again after a delay, or
    /// given up after [`MAX_ATTEMPTS`] (or at once when `permanent`).
    pub fn mail_failed(&self, id: u64, error: &str, permanent: bool, now_ms: i64) -> Result<MailStatus> {
        let conn = self.conn();
        let attempts: u32 =
            conn.query_row("SELECT attempts FROM mail_outbox WHERE id = ?", [id], |row| row.get(0))?;
        let status =
            if permanent || attempts >= MAX_ATTEMPTS { MailStatus::Failed } else { MailStatus::Queued };
        let error: String = error.chars().take(500).collect();
        conn.execute(
            "UPDATE mail_outbox SET status = ?, next_attempt_ms = ?, last_error = ? WHERE id = ?",
            params![status.code(), now_ms + retry_delay_ms(attempts), error, id],
        )?;
        Ok(status)
    }

    /// Marks a message whose subscription or alert is gone.
    pub fn mail_cancelled(&self, id: u64) -> Result<()> {
        self.conn().execute("UPDATE mail_outbox SET status = 5 WHERE id = ?", [id])?;
        Ok(())
    }

    /// At start: messages a previous process was sending when it stopped become
    /// `interrupted` (they are not sent again). Returns how many.
    pub fn interrupt_unfinished_mail(&self) -> Result<usize> {
        Ok(self.conn().execute("UPDATE mail_outbox SET status = 4 WHERE status = 1", [])?)
    }

    /// Follows an unsubscribe link: removes the report subscription or alert whose message
    /// carried the secret with this digest. `None` when no message did.
    pub fn unsubscribe(&self, unsubscribe_sha256: &[u8; 32], apply: bool) -> Result<Option<Unsubscribed>> {
        in_transaction(&self.conn(), |conn| {
            let found: Option<(u8, u32)> = conn
                .query_row(
                    "SELECT kind, ref_id FROM mail_outbox WHERE unsubscribe_sha256 = ?",
                    [unsubscribe_sha256.as_slice()],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            let Some((kind, ref_id)) = found else { return Ok(None) };
            let kind = MailKind::from_code(kind);
            let table = match kind {
                MailKind::Report => "report_subscriptions",
                MailKind::Alert => "site_alerts",
            };
            let row: Option<(String, Option<String>)> = conn
                .query_row(
                    &format!(
                        "SELECT m.language, s.domain FROM {table} m LEFT JOIN sites s ON s.id = m.site_id
                         WHERE m.id = ?"
                    ),
                    [ref_id],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            let removed = row.is_some() && apply;
            if removed {
                conn.execute(&format!("DELETE FROM {table} WHERE id = ?"), [ref_id])?;
                cancel_queued(conn, kind, ref_id)?;
            }
            let (language, domain) = row.unwrap_or_else(|| ("en".to_owned(), None));
            Ok(Some(match kind {
                MailKind::Report => Unsubscribed::Report { domain, language, removed },
                MailKind::Alert => Unsubscribed::Alert { domain, language, removed },
            }))
        })
    }

    /// Deletes finished outbox rows older than `before_ms` (their unsubscribe links stop
    /// working). Returns how many.
    pub fn prune_outbox(&self, before_ms: i64) -> Result<usize> {
        Ok(self.conn().execute(
            "DELETE FROM mail_outbox WHERE status NOT IN (0, 1) AND created_at_ms < ?",
            [before_ms],
        )?)
    }
}

/// An alert's condition holds: the episode it begins.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlertFiring {
    /// When the episode began (the check's time, or the low day's start).
    pub episode_start_ms: i64,
    /// The end of what was measured.
    pub episode_end_ms: i64,
    /// What was seen.
    pub value: f64,
    /// What it was compared with (the usual day), if anything.
    pub baseline: Option<f64>,
}

/// The two kinds of mailing a site has, for [`check_room`].
#[derive(Clone, Copy)]
enum Mailing {
    Report,
    Alert,
}

/// Refuses a new report recipient or alert when the site has [`MAX_MAILINGS_PER_SITE`] of
/// them, or this address has this one (`variant`: the frequency or the alert's kind).
fn check_room(
    conn: &duckdb::Connection,
    mailing: Mailing,
    site_id: u32,
    email: &str,
    variant: u8,
) -> Result<()> {
    let (table, column, field, what) = match mailing {
        Mailing::Report => ("report_subscriptions", "frequency", "report", "report recipients"),
        Mailing::Alert => ("site_alerts", "kind", "alert", "alerts"),
    };
    let count: usize =
        conn.query_row(&format!("SELECT count(*) FROM {table} WHERE site_id = ?"), [site_id], |row| {
            row.get(0)
        })?;
    if count >= MAX_MAILINGS_PER_SITE {
        return Err(Error::Invalid {
            field,
            reason: format!("a site has at most {MAX_MAILINGS_PER_SITE} {what}"),
        });
    }
    let exists: Option<u32> = conn
        .query_row(
            &format!("SELECT id FROM {table} WHERE site_id = ? AND email = ? AND {column} = ?"),
            params![site_id, email, variant],
            |row| row.get(0),
        )
        .optional()?;
    if exists.is_some() {
        return Err(Error::MailingExists);
    }
    Ok(())
}

fn cancel_queued(conn: &duckdb::Connection, kind: MailKind, ref_id: u32) -> duckdb::Result<usize> {
    conn.execute(
        "UPDATE mail_outbox SET status = 5 WHERE kind = ? AND ref_id = ? AND status = 0",
        params![kind.code(), ref_id],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store, u32) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("hitkeep.db")).unwrap();
        let site = store.add_site("mail.example", "Europe/Berlin").unwrap();
        (dir, store, site.id)
    }

    #[test]
    fn a_report_is_queued_once_per_period_and_follows_its_states() {
        let (_dir, store, site) = store();
        let sub = store
            .add_report_subscription(site, "Ada@Example.com", Frequency::Weekly, "de", None, 10)
            .unwrap();
        assert_eq!(sub.email, "ada@example.com");
        assert!(matches!(
            store.add_report_subscription(site, "ada@example.com", Frequency::Weekly, "en", None, 11),
            Err(Error::MailingExists)
        ));
        assert!(
            store.add_report_subscription(site, "ada@example.com", Frequency::Daily, "xx", None, 11).is_err()
        );
        assert!(store.queue_report(sub.id, 100, 200, 300).unwrap());
        assert!(!store.queue_report(sub.id, 100, 200, 400).unwrap(), "the same period is queued once");
        assert!(!store.queue_report(999, 100, 200, 400).unwrap(), "no subscription, nothing queued");
        let due = store.due_mail(300, 10).unwrap();
        assert_eq!(due.len(), 1);
        let mail = &due[0];
        assert_eq!((mail.kind, mail.ref_id, mail.status), (MailKind::Report, sub.id, MailStatus::Queued));
        assert!(store.claim_mail(mail.id, &[7; 32]).unwrap());
        assert!(!store.claim_mail(mail.id, &[8; 32]).unwrap(), "claimed once");
        assert_eq!(store.mail_failed(mail.id, "smtp: refused", false, 1_000).unwrap(), MailStatus::Queued);
        assert!(store.due_mail(1_000, 10).unwrap().is_empty(), "waits before the next attempt");
        assert_eq!(store.due_mail(1_000 + retry_delay_ms(1), 10).unwrap().len(), 1);
        assert!(store.claim_mail(mail.id, &[9; 32]).unwrap());
        store.mail_sent(mail.id, 2_000).unwrap();
        let sent = &store.outbox(10).unwrap()[0];
        assert_eq!((sent.status, sent.attempts, sent.sent_at_ms), (MailStatus::Sent, 2, Some(2_000)));
        assert!(store.queue_report(sub.id, 100, 200, 5_000).is_ok_and(|queued| !queued), "sent stays sent");

        // The link of the message removes the subscription, once.
        assert_eq!(store.unsubscribe(&[1; 32], true).unwrap(), None);
        let preview = store.unsubscribe(&[9; 32], false).unwrap();
        assert!(matches!(preview, Some(Unsubscribed::Report { removed: false, .. })));
        assert_eq!(store.report_subscriptions(Some(site)).unwrap().len(), 1);
        let done = store.unsubscribe(&[9; 32], true).unwrap();
        assert_eq!(
            done,
            Some(Unsubscribed::Report {
                domain: Some("mail.example".into()),
                language: "de".into(),
                removed: true
            })
        );
        assert!(store.report_subscriptions(Some(site)).unwrap().is_empty());
        assert!(matches!(
            store.unsubscribe(&[9; 32], true).unwrap(),
            Some(Unsubscribed::Report { removed: false, .. })
        ));
    }

    #[test]
    fn a_message_being_sent_when_the_process_stopped_is_not_sent_again() {
        let (_dir, store, site) = store();
        let sub =
            store.add_report_subscription(site, "ada@example.com", Frequency::Daily, "en", None, 0).unwrap();
        store.queue_report(sub.id, 0, 10, 10).unwrap();
        let id = store.due_mail(10, 1).unwrap()[0].id;
        store.claim_mail(id, &[1; 32]).unwrap();
        assert_eq!(store.interrupt_unfinished_mail().unwrap(), 1);
        assert_eq!(store.outbox(1).unwrap()[0].status, MailStatus::Interrupted);
        assert!(store.due_mail(i64::MAX, 10).unwrap().is_empty());
        assert!(!store.queue_report(sub.id, 0, 10, 20).unwrap());
    }

    #[test]
    fn a_message_is_given_up_after_its_attempts_and_removing_cancels_the_queued() {
        let (_dir, store, site) = store();
        let sub = store
            .add_report_subscription(site, "ada@example.com", Frequency::Monthly, "it", None, 0)
            .unwrap();
        store.queue_report(sub.id, 0, 10, 10).unwrap();
        let id = store.due_mail(10, 1).unwrap()[0].id;
        for attempt in 1..=MAX_ATTEMPTS {
            assert!(store.claim_mail(id, &[attempt as u8; 32]).unwrap());
            let status = store.mail_failed(id, "smtp: unreachable", false, 0).unwrap();
            let expected = if attempt == MAX_ATTEMPTS { MailStatus::Failed } else { MailStatus::Queued };
            assert_eq!(status, expected);
            store.conn().execute("UPDATE mail_outbox SET next_attempt_ms = 0", []).unwrap();
        }
        store.queue_report(sub.id, 10, 20, 30).unwrap();
        store.remove_report_subscription(site, sub.id).unwrap();
        assert!(matches!(store.remove_report_subscription(site, sub.id), Err(Error::MailingNotFound)));
        let statuses: Vec<_> = store.outbox(10).unwrap().into_iter().map(|m| m.status).collect();
        assert_eq!(statuses, [MailStatus::Cancelled, MailStatus::Failed]);
    }

    #[test]
    fn an_alert_fires_once_per_episode() {
        let (_dir, store, site) = store();
        assert!(
            store
                .add_alert(
                    site,
                    &NewAlert {
                        email: "ops@example.com",
                        language: "en",
                        kind: AlertKind::TrafficDrop,
                        threshold: 100
                    },
                    None,
                    0
                )
                .is_err()
        );
        assert!(
            store
                .add_alert(
                    site,
                    &NewAlert {
                        email: "ops@example.com",
                        language: "en",
                        kind: AlertKind::VisitorsAbove,
                        threshold: 0
                    },
                    None,
                    0
                )
                .is_err()
        );
        let alert = store
            .add_alert(
                site,
                &NewAlert {
                    email: "ops@example.com",
                    language: "fr",
                    kind: AlertKind::VisitorsAbove,
                    threshold: 50,
                },
                None,
                0,
            )
            .unwrap();
        let firing =
            |at| AlertFiring { episode_start_ms: at, episode_end_ms: at, value: 80.0, baseline: None };
        assert!(store.record_alert_check(alert.id, Some(firing(1_000)), 1_000).unwrap());
        assert!(!store.record_alert_check(alert.id, Some(firing(2_000)), 2_000).unwrap(), "same episode");
        assert_eq!(store.alert(alert.id).unwrap().unwrap().episode_start_ms, Some(1_000));
        assert!(!store.record_alert_check(alert.id, None, 3_000).unwrap());
        assert_eq!(store.alert(alert.id).unwrap().unwrap().episode_start_ms, None);
        assert!(store.record_alert_check(alert.id, Some(firing(4_000)), 4_000).unwrap(), "a new episode");
        let queued: Vec<_> =
            store.outbox(10).unwrap().into_iter().map(|m| (m.kind, m.period_start_ms)).collect();
        assert_eq!(queued, [(MailKind::Alert, 4_000), (MailKind::Alert, 1_000)]);
    }
}
