//! The database schema and its numbered migrations.
//!
//! Migrations are applied in order at open, each in its own transaction together with the
//! row that records it in `schema_migrations`. A migration, once released, is never edited:
//! changes are new migrations appended to [`MIGRATIONS`].
//!
//! # The events table
//!
//! `events` is laid out for a columnar engine: one row per hit, no indexes (DuckDB's zone
//! maps on `ts` do the pruning, and rows arrive roughly in time order), small integer codes
//! for closed sets (`kind`, `channel`, `device`, defined by `hitkeep_protocol`), and plain
//! `VARCHAR` for open low-cardinality sets (browser, country, UTM values), which DuckDB
//! dictionary-compresses per row group. Timestamps are UTC. Custom properties live in
//! `event_props`, one row per property, so that hits without properties cost nothing and
//! property breakdowns scan two narrow columns.

use duckdb::Connection;

use crate::{Error, Result};

/// The schema, one migration per entry; entry `i` brings the database to version `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: sites, events, properties, ingest bookkeeping.
    r#"
    CREATE SEQUENCE site_id_seq START 1;
    CREATE TABLE sites (
        id                  UINTEGER PRIMARY KEY,
        domain              VARCHAR NOT NULL UNIQUE,
        timezone            VARCHAR NOT NULL,
        created_at          TIMESTAMP NOT NULL,
        -- Privacy rules the edges apply (lists are newline-separated).
        honor_dnt           BOOLEAN NOT NULL DEFAULT true,
        honor_gpc           BOOLEAN NOT NULL DEFAULT true,
        excluded_ip_ranges  VARCHAR NOT NULL DEFAULT '',
        excluded_paths      VARCHAR NOT NULL DEFAULT '',
        allowed_hostnames   VARCHAR NOT NULL DEFAULT ''
    );
    CREATE SEQUENCE edge_token_id_seq START 1;
    -- Tokens that edges without NATS (Spin) present to the batch endpoint. Only a SHA-256
    -- digest is kept: the tokens are 256 random bits, so a fast hash is enough.
    CREATE TABLE edge_tokens (
        id            UINTEGER PRIMARY KEY DEFAULT nextval('edge_token_id_seq'),
        name          VARCHAR NOT NULL UNIQUE,
        token_sha256  BLOB NOT NULL UNIQUE,
        created_at    TIMESTAMP NOT NULL
    );
    CREATE TABLE events (
        site_id          UINTEGER NOT NULL,
        ts               TIMESTAMP NOT NULL,
        visitor_id       UBIGINT NOT NULL,
        session_id       UBIGINT NOT NULL,
        kind             UTINYINT NOT NULL,
        name             VARCHAR NOT NULL,
        hostname         VARCHAR NOT NULL,
        path             VARCHAR NOT NULL,
        referrer         VARCHAR,
        source           VARCHAR,
        channel          UTINYINT NOT NULL,
        utm_source       VARCHAR,
        utm_medium       VARCHAR,
        utm_campaign     VARCHAR,
        utm_content      VARCHAR,
        utm_term         VARCHAR,
        country          VARCHAR,
        region           VARCHAR,
        city             VARCHAR,
        browser          VARCHAR,
        browser_version  VARCHAR,
        os               VARCHAR,
        os_version       VARCHAR,
        device           UTINYINT NOT NULL,
        revenue_micros   BIGINT,
        revenue_currency VARCHAR,
        interactive      BOOLEAN NOT NULL
    );
    CREATE TABLE event_props (
        site_id     UINTEGER NOT NULL,
        ts          TIMESTAMP NOT NULL,
        visitor_id  UBIGINT NOT NULL,
        session_id  UBIGINT NOT NULL,
        name        VARCHAR NOT NULL,
        key         VARCHAR NOT NULL,
        value       VARCHAR NOT NULL
    );
    CREATE TABLE ingested_batches (
        batch_id    VARCHAR PRIMARY KEY,
        edge        VARCHAR NOT NULL,
        received_at TIMESTAMP NOT NULL,
        hits        UINTEGER NOT NULL
    );
    CREATE SEQUENCE dead_letter_id_seq START 1;
    CREATE TABLE dead_letters (
        id          UBIGINT PRIMARY KEY DEFAULT nextval('dead_letter_id_seq'),
        received_at TIMESTAMP NOT NULL,
        batch_id    VARCHAR,
        edge        VARCHAR,
        reason      VARCHAR NOT NULL,
        detail      VARCHAR NOT NULL,
        payload     BLOB NOT NULL
    );
    "#,
    // 2: accounts: people, their roles, sign-in sessions, API tokens, one-time codes, the
    // audit log. Times are ms since the epoch (the server's clock is a parameter). Every
    // secret is kept as the SHA-256 digest of 256 random bits, passwords as argon2id PHC
    // strings: nothing here can be presented back to the server.
    r#"
    CREATE SEQUENCE user_id_seq START 1;
    CREATE TABLE users (
        id                UINTEGER PRIMARY KEY DEFAULT nextval('user_id_seq'),
        email             VARCHAR NOT NULL UNIQUE,
        name              VARCHAR NOT NULL,
        -- NULL: the account has no password (the demo account; SSO or passkey only).
        password_hash     VARCHAR,
        -- Instance role: 1 member, 2 admin, 3 owner.
        role              UTINYINT NOT NULL,
        created_at_ms     BIGINT NOT NULL
    );
    -- Per site roles: 1 viewer, 2 admin, 3 owner.
    CREATE TABLE site_members (
        site_id        UINTEGER NOT NULL,
        user_id        UINTEGER NOT NULL,
        role           UTINYINT NOT NULL,
        created_at_ms  BIGINT NOT NULL,
        PRIMARY KEY (site_id, user_id)
    );
    CREATE SEQUENCE session_id_seq START 1;
    CREATE TABLE sessions (
        id               UBIGINT PRIMARY KEY DEFAULT nextval('session_id_seq'),
        token_sha256     BLOB NOT NULL UNIQUE,
        user_id          UINTEGER NOT NULL,
        -- How it was opened: password, setup, invitation, demo.
        method           VARCHAR NOT NULL,
        -- A coarse label of the browser ("Firefox on Linux"), never the user agent itself.
        client           VARCHAR NOT NULL,
        created_at_ms    BIGINT NOT NULL,
        last_seen_at_ms  BIGINT NOT NULL,
        -- The absolute end; the idle end is last_seen_at_ms plus the idle timeout.
        expires_at_ms    BIGINT NOT NULL
    );
    CREATE SEQUENCE api_token_id_seq START 1;
    CREATE TABLE api_tokens (
        id               UINTEGER PRIMARY KEY DEFAULT nextval('api_token_id_seq'),
        name             VARCHAR NOT NULL UNIQUE,
        token_sha256     BLOB NOT NULL UNIQUE,
        -- The person it acts for; NULL: made by the operator on the command line.
        user_id          UINTEGER,
        -- 1 read, 2 write.
        scope            UTINYINT NOT NULL,
        -- true: every site (of its person); else the sites in api_token_sites.
        all_sites        BOOLEAN NOT NULL,
        created_at_ms    BIGINT NOT NULL,
        expires_at_ms    BIGINT,
        last_used_at_ms  BIGINT
    );
    CREATE TABLE api_token_sites (
        token_id  UINTEGER NOT NULL,
        site_id   UINTEGER NOT NULL,
        PRIMARY KEY (token_id, site_id)
    );
    -- The one-time code of the first-run setup link.
    CREATE TABLE setup_codes (
        code_sha256    BLOB PRIMARY KEY,
        created_at_ms  BIGINT NOT NULL
    );
    CREATE SEQUENCE invitation_id_seq START 1;
    CREATE TABLE invitations (
        id              UINTEGER PRIMARY KEY DEFAULT nextval('invitation_id_seq'),
        code_sha256     BLOB NOT NULL UNIQUE,
        email           VARCHAR NOT NULL,
        -- The instance role the new account gets.
        role            UTINYINT NOT NULL,
        -- And optionally a role on one site.
        site_id         UINTEGER,
        site_role       UTINYINT,
        invited_by      UINTEGER,
        created_at_ms   BIGINT NOT NULL,
        expires_at_ms   BIGINT NOT NULL
    );
    CREATE SEQUENCE audit_id_seq START 1;
    CREATE TABLE audit_log (
        id        UBIGINT PRIMARY KEY DEFAULT nextval('audit_id_seq'),
        at_ms     BIGINT NOT NULL,
        -- sign_in, sign_in_failed, token_created... (hitkeep_store::AuditKind).
        event     VARCHAR NOT NULL,
        -- Whose account it concerns, and who did it (NULL: the operator's command line).
        user_id   UINTEGER,
        actor_id  UINTEGER,
        detail    VARCHAR NOT NULL
    );
    "#,
    // 3: second factors (TOTP, passkeys), share links, instance settings, password resets,
    // single sign-on identities. A TOTP secret must be read back to
    // check codes, so it is kept sealed with the data directory's key (`secret.key`, outside
    // the database); recovery codes, challenges and share links are digests like every other
    // secret, a share link's password an argon2id PHC string.
    r#"
    CREATE TABLE totp_factors (
        user_id        UINTEGER PRIMARY KEY,
        secret_sealed  BLOB NOT NULL,
        -- false until the person has entered a first code from their app.
        confirmed      BOOLEAN NOT NULL,
        -- The time step of the last code accepted: each code is accepted once.
        last_step      BIGINT NOT NULL,
        created_at_ms  BIGINT NOT NULL
    );
    CREATE TABLE recovery_codes (
        user_id      UINTEGER NOT NULL,
        code_sha256  BLOB NOT NULL,
        used_at_ms   BIGINT,
        PRIMARY KEY (user_id, code_sha256)
    );
    -- The second step of a sign-in: the password was right, a second factor is due.
    CREATE TABLE sign_in_challenges (
        token_sha256   BLOB PRIMARY KEY,
        user_id        UINTEGER NOT NULL,
        -- How the first step was made (password).
        method         VARCHAR NOT NULL,
        attempts       UINTEGER NOT NULL,
        expires_at_ms  BIGINT NOT NULL
    );
    CREATE SEQUENCE share_link_id_seq START 1;
    CREATE TABLE share_links (
        id             UINTEGER PRIMARY KEY DEFAULT nextval('share_link_id_seq'),
        site_id        UINTEGER NOT NULL,
        name           VARCHAR NOT NULL,
        token_sha256   BLOB NOT NULL UNIQUE,
        -- NULL: no password.
        password_hash  VARCHAR,
        -- Whether other sites may show it in an iframe.
        embed          BOOLEAN NOT NULL,
        created_by     UINTEGER,
        created_at_ms  BIGINT NOT NULL,
        expires_at_ms  BIGINT,
        UNIQUE (site_id, name)
    );
    -- A password-protected share link, unlocked in one browser.
    CREATE TABLE share_sessions (
        token_sha256   BLOB PRIMARY KEY,
        link_id        UINTEGER NOT NULL,
        expires_at_ms  BIGINT NOT NULL
    );
    CREATE TABLE instance_settings (
        name   VARCHAR PRIMARY KEY,
        value  VARCHAR NOT NULL
    );
    -- Passkeys (WebAuthn credentials): the public key, counter and flags as webauthn-rs keeps
    -- them (JSON; nothing in it is secret), by credential id.
    CREATE SEQUENCE passkey_id_seq START 1;
    CREATE TABLE passkeys (
        id               UINTEGER PRIMARY KEY DEFAULT nextval('passkey_id_seq'),
        user_id          UINTEGER NOT NULL,
        name             VARCHAR NOT NULL,
        credential_id    BLOB NOT NULL UNIQUE,
        passkey          VARCHAR NOT NULL,
        created_at_ms    BIGINT NOT NULL,
        last_used_at_ms  BIGINT
    );
    -- The random user handle an authenticator keeps for an account (never the e-mail address).
    CREATE TABLE webauthn_handles (
        user_id  UINTEGER PRIMARY KEY,
        handle   BLOB NOT NULL UNIQUE
    );
    -- Accounts linked to an OpenID Connect provider's subject (linked by verified e-mail).
    CREATE TABLE oidc_identities (
        issuer         VARCHAR NOT NULL,
        subject        VARCHAR NOT NULL,
        user_id        UINTEGER NOT NULL,
        created_at_ms  BIGINT NOT NULL,
        PRIMARY KEY (issuer, subject)
    );
    -- A password reset link sent by e-mail: its digest, valid once, for an hour.
    CREATE TABLE password_resets (
        token_sha256   BLOB PRIMARY KEY,
        user_id        UINTEGER NOT NULL,
        created_at_ms  BIGINT NOT NULL,
        expires_at_ms  BIGINT NOT NULL
    );
    "#,
    // 4: visits, the table the stats engine reads visit metrics from, maintained by the
    // ingest pipeline in the events' transaction. A visit's row changes while it is open, and
    // rows are only ever appended (DuckDB appends cheaply and updates dearly): each change
    // appends a row with `sign = -1` that cancels the visit's previous row (same values) and
    // a row with `sign = 1` holding its new state, so `sum(sign)` counts visits and
    // `sum(sign * x)` sums any column over them, whatever the number of versions (the design
    // of ClickHouse's collapsing merge tree, which Plausible's sessions table uses).
    // Existing events are folded into one row per visit.
    r#"
    CREATE TABLE visits (
        site_id          UINTEGER NOT NULL,
        session_id       UBIGINT NOT NULL,
        visitor_id       UBIGINT NOT NULL,
        sign             TINYINT NOT NULL,
        -- 1, 2, 3... per visit; the live row is the one with the highest version.
        version          UINTEGER NOT NULL,
        -- First and last hit (engagement reports included).
        start_ts         TIMESTAMP NOT NULL,
        end_ts           TIMESTAMP NOT NULL,
        duration_ms      BIGINT NOT NULL,
        pageviews        UINTEGER NOT NULL,
        -- Custom events (not pageviews, not engagement reports).
        events           UINTEGER NOT NULL,
        -- 1 when the visit saw at most one page and did nothing interactive.
        bounce           UTINYINT NOT NULL,
        hostname         VARCHAR NOT NULL,
        entry_page       VARCHAR NOT NULL,
        exit_page        VARCHAR NOT NULL,
        -- What the visit came with: the values of its first hit.
        referrer         VARCHAR,
        source           VARCHAR,
        channel          UTINYINT NOT NULL,
        utm_source       VARCHAR,
        utm_medium       VARCHAR,
        utm_campaign     VARCHAR,
        utm_content      VARCHAR,
        utm_term         VARCHAR,
        country          VARCHAR,
        region           VARCHAR,
        city             VARCHAR,
        browser          VARCHAR,
        browser_version  VARCHAR,
        os               VARCHAR,
        os_version       VARCHAR,
        device           UTINYINT NOT NULL
    );
    INSERT INTO visits
    SELECT site_id, session_id, arg_min(visitor_id, ts), 1, 1, min(ts), max(ts),
           epoch_ms(max(ts)) - epoch_ms(min(ts)),
           count(*) FILTER (WHERE kind = 0), count(*) FILTER (WHERE kind = 1),
           CASE WHEN count(*) FILTER (WHERE kind = 0) <= 1
                 AND count(*) FILTER (WHERE kind = 1 AND interactive) = 0 THEN 1 ELSE 0 END,
           arg_min(hostname, ts),
           coalesce(arg_min(path, ts) FILTER (WHERE kind = 0), arg_min(path, ts)),
           coalesce(arg_max(path, ts) FILTER (WHERE kind = 0), arg_max(path, ts)),
           first.referrer, first.source, first.channel, first.utm_source, first.utm_medium,
           first.utm_campaign, first.utm_content, first.utm_term, first.country, first.region,
           first.city, first.browser, first.browser_version, first.os, first.os_version,
           first.device
    FROM (
        SELECT *, arg_min({'referrer': referrer, 'source': source, 'channel': channel,
                           'utm_source': utm_source, 'utm_medium': utm_medium,
                           'utm_campaign': utm_campaign, 'utm_content': utm_content,
                           'utm_term': utm_term, 'country': country, 'region': region,
                           'city': city, 'browser': browser, 'browser_version': browser_version,
                           'os': os, 'os_version': os_version, 'device': device}, ts)
                  OVER (PARTITION BY site_id, session_id) AS first
        FROM events
    )
    GROUP BY site_id, session_id, first;
    "#,
    // 5: goals: a page (a path pattern with wildcards) or a custom event (its name, and
    // property values it must have), each shown by its name.
    r#"
    CREATE SEQUENCE goal_id_seq START 1;
    CREATE TABLE goals (
        id             UINTEGER PRIMARY KEY DEFAULT nextval('goal_id_seq'),
        site_id        UINTEGER NOT NULL,
        name           VARCHAR NOT NULL,
        -- 0: a page, 1: a custom event.
        kind           UTINYINT NOT NULL,
        page_pattern   VARCHAR,
        event_name     VARCHAR,
        -- Property conditions: a JSON object of key: value, all of which the event must have.
        props          VARCHAR NOT NULL,
        created_at_ms  BIGINT NOT NULL,
        UNIQUE (site_id, name)
    );
    "#,
    // 6: funnels: 2 to 8 ordered steps (pages or custom events, as goals define them) that
    // count when done in order, within a visit or within a window.
    r#"
    CREATE SEQUENCE funnel_id_seq START 1;
    CREATE TABLE funnels (
        id             UINTEGER PRIMARY KEY DEFAULT nextval('funnel_id_seq'),
        site_id        UINTEGER NOT NULL,
        name           VARCHAR NOT NULL,
        -- A JSON array of steps, each a goal's definition ({"kind": "page", "pattern": ...}).
        steps          VARCHAR NOT NULL,
        -- NULL: the steps must happen within one visit; else within this many ms of the first.
        window_ms      BIGINT,
        created_at_ms  BIGINT NOT NULL,
        UNIQUE (site_id, name)
    );
    "#,
    // 7: daily rollups, what the stats engine reads for whole days that have settled (see
    // `stats::rollup`): per site, local day (in the zone named in `rollup_days`) and
    // dimension, the day's numbers by the dimension's value. `rollup_days` says which days
    // are built; `rollup_dirty` the UTC dates that got events after their day was built (the
    // ingest path adds a row in the events' own transaction, so a query never reads a stale
    // day: a dirty day is read from the events until it is built again).
    r#"
    CREATE TABLE rollups (
        site_id      UINTEGER NOT NULL,
        day          DATE NOT NULL,
        -- Which dimension (and from which table): `stats::rollup::Rolled`.
        dim          UTINYINT NOT NULL,
        value        VARCHAR,
        visitors     BIGINT NOT NULL,
        visits       BIGINT NOT NULL,
        pageviews    BIGINT NOT NULL,
        events       BIGINT NOT NULL,
        bounces      BIGINT NOT NULL,
        duration_ms  BIGINT NOT NULL
    );
    CREATE TABLE rollup_days (
        site_id      UINTEGER NOT NULL,
        day          DATE NOT NULL,
        timezone     VARCHAR NOT NULL,
        built_at     TIMESTAMP NOT NULL,
        PRIMARY KEY (site_id, day)
    );
    -- No key: two ingest transactions may add the same date at once.
    CREATE TABLE rollup_dirty (
        site_id      UINTEGER NOT NULL,
        utc_day      DATE NOT NULL,
        marked_at    TIMESTAMP NOT NULL
    );
    "#,
    // 8: per-site retention: the days a site's events are kept (0: for ever); a site
    // without a row keeps the instance's default (the `retention_days` setting).
    r#"
    CREATE TABLE site_retention (
        site_id  UINTEGER PRIMARY KEY,
        days     UINTEGER NOT NULL
    );
    "#,
    // 9: e-mail reports and alerts, and the outbox they go through (see `mailings.rs`).
    // Frequencies: 1 daily, 2 weekly, 3 monthly. Alert kinds: 1 current visitors above
    // `threshold`, 2 a day below `threshold` percent of the usual. Outbox kinds: 1 report,
    // 2 alert; states: 0 queued, 1 sending, 2 sent, 3 failed, 4 interrupted, 5 cancelled.
    // A message is unique per (kind, subscription or alert, period or episode start): that is
    // what keeps a report from being sent twice. Bodies are not stored; the digest of the
    // unsubscribe secret the sent body held is.
    r#"
    CREATE SEQUENCE report_subscription_id_seq START 1;
    CREATE TABLE report_subscriptions (
        id             UINTEGER PRIMARY KEY DEFAULT nextval('report_subscription_id_seq'),
        site_id        UINTEGER NOT NULL,
        email          VARCHAR NOT NULL,
        frequency      UTINYINT NOT NULL,
        language       VARCHAR NOT NULL,
        created_by     UINTEGER,
        created_at_ms  BIGINT NOT NULL,
        UNIQUE (site_id, email, frequency)
    );
    CREATE SEQUENCE site_alert_id_seq START 1;
    CREATE TABLE site_alerts (
        id                UINTEGER PRIMARY KEY DEFAULT nextval('site_alert_id_seq'),
        site_id           UINTEGER NOT NULL,
        email             VARCHAR NOT NULL,
        language          VARCHAR NOT NULL,
        kind              UTINYINT NOT NULL,
        threshold         UINTEGER NOT NULL,
        episode_start_ms  BIGINT,
        created_by        UINTEGER,
        created_at_ms     BIGINT NOT NULL,
        UNIQUE (site_id, email, kind)
    );
    CREATE SEQUENCE mail_outbox_id_seq START 1;
    CREATE TABLE mail_outbox (
        id                  UBIGINT PRIMARY KEY DEFAULT nextval('mail_outbox_id_seq'),
        kind                UTINYINT NOT NULL,
        ref_id              UINTEGER NOT NULL,
        period_start_ms     BIGINT NOT NULL,
        period_end_ms       BIGINT NOT NULL,
        value               DOUBLE,
        baseline            DOUBLE,
        status              UTINYINT NOT NULL,
        attempts            UINTEGER NOT NULL,
        next_attempt_ms     BIGINT NOT NULL,
        created_at_ms       BIGINT NOT NULL,
        sent_at_ms          BIGINT,
        last_error          VARCHAR,
        unsubscribe_sha256  BLOB,
        UNIQUE (kind, ref_id, period_start_ms)
    );
    "#,
    // 10: imported history (see `imported.rs`): a Plausible CSV export's aggregated tables,
    // one wide table of per-day rows (`kind`: 1 visitors, 2 sources, 3 pages, 4 entry pages,
    // 5 exit pages, 6 locations, 7 devices, 8 browsers, 9 operating systems, 10 custom
    // events), a column per dimension any of them has; and the imports that wrote them.
    r#"
    CREATE SEQUENCE site_import_id_seq START 1;
    CREATE TABLE site_imports (
        id             UINTEGER PRIMARY KEY DEFAULT nextval('site_import_id_seq'),
        site_id        UINTEGER NOT NULL,
        source         VARCHAR NOT NULL,
        first_day      DATE NOT NULL,
        last_day       DATE NOT NULL,
        rows           UBIGINT NOT NULL,
        created_at_ms  BIGINT NOT NULL
    );
    CREATE TABLE imported_stats (
        site_id         UINTEGER NOT NULL,
        import_id       UINTEGER NOT NULL,
        kind            UTINYINT NOT NULL,
        day             DATE NOT NULL,
        source          VARCHAR,
        referrer        VARCHAR,
        utm_source      VARCHAR,
        utm_medium      VARCHAR,
        utm_campaign    VARCHAR,
        utm_content     VARCHAR,
        utm_term        VARCHAR,
        hostname        VARCHAR,
        page            VARCHAR,
        entry_page      VARCHAR,
        exit_page       VARCHAR,
        country         VARCHAR,
        region          VARCHAR,
        city            VARCHAR,
        device          VARCHAR,
        browser         VARCHAR,
        browser_version VARCHAR,
        os              VARCHAR,
        os_version      VARCHAR,
        name            VARCHAR,
        link_url        VARCHAR,
        path            VARCHAR,
        visitors        UBIGINT NOT NULL,
        visits          UBIGINT NOT NULL,
        pageviews       UBIGINT NOT NULL,
        bounces         UBIGINT NOT NULL,
        visit_duration  UBIGINT NOT NULL,
        events          UBIGINT NOT NULL
    );
    "#,
    // 11: the position in the cluster's ingest stream (JetStream) of each batch taken from
    // it, so that a replica, or a backup restored as one, resumes the stream where its own
    // database left it.
    r#"
    ALTER TABLE ingested_batches ADD COLUMN stream_seq UBIGINT;
    "#,
];

/// The version a fully migrated database has.
pub fn latest_version() -> u32 {
    MIGRATIONS.len() as u32
}

/// The version of the database behind `conn` (0 for a new file).
pub fn current_version(conn: &Connection) -> Result<u32> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version UINTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)",
    )?;
    let version: Option<u32> =
        conn.query_row("SELECT max(version) FROM schema_migrations", [], |row| row.get(0))?;
    Ok(version.unwrap_or(0))
}

/// Applies every migration the database has not seen yet.
pub fn migrate(conn: &Connection) -> Result<()> {
    let found = current_version(conn)?;
    let known = latest_version();
    if found > known {
        return Err(Error::SchemaTooNew { found, known });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = index as u32 + 1;
        conn.execute_batch("BEGIN TRANSACTION")?;
        let applied = conn.execute_batch(sql).and_then(|()| {
            conn.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, current_timestamp::TIMESTAMP)",
                [version],
            )
        });
        match applied {
            Ok(_) => conn.execute_batch("COMMIT")?,
            Err(error) => {
                conn.execute_batch("ROLLBACK")?;
                return Err(error.into());
            }
        }
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_a_new_database_once() {
        let conn = Connection::open_in_memory().unwrap();
        migrate(&conn).unwrap();
        assert_eq!(current_version(&conn).unwrap(), latest_version());
        migrate(&conn).unwrap();
        let rows: u32 = conn.query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, latest_version());
    }

    #[test]
    fn visits_are_folded_from_existing_events() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version UINTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)",
        )
        .unwrap();
        for (index, sql) in MIGRATIONS[..3].iter().enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.execute(
                "INSERT INTO schema_migrations VALUES (?, current_timestamp::TIMESTAMP)",
                [index + 1],
            )
            .unwrap();
        }
        // Session 1: a pageview from Google, a non-interactive event, a second pageview.
        // Session 2: one pageview and an interactive event (not a bounce).
        // Session 3: one pageview (a bounce).
        conn.execute_batch(
            "INSERT INTO events (site_id, ts, visitor_id, session_id, kind, name, hostname, path, source,
                                 channel, country, device, interactive) VALUES
             (1, TIMESTAMP '2026-01-01 10:00:00', 7, 1, 0, 'pageview', 'a.com', '/', 'Google', 1, 'DE', 1, true),
             (1, TIMESTAMP '2026-01-01 10:01:00', 7, 1, 1, 'Play', 'a.com', '/', NULL, 0, 'DE', 1, false),
             (1, TIMESTAMP '2026-01-01 10:03:00', 7, 1, 0, 'pageview', 'a.com', '/docs', NULL, 0, 'DE', 1, true),
             (1, TIMESTAMP '2026-01-01 11:00:00', 8, 2, 0, 'pageview', 'a.com', '/x', NULL, 0, NULL, 0, true),
             (1, TIMESTAMP '2026-01-01 11:00:30', 8, 2, 1, 'Signup', 'a.com', '/x', NULL, 0, NULL, 0, true),
             (1, TIMESTAMP '2026-01-01 12:00:00', 9, 3, 0, 'pageview', 'a.com', '/y', NULL, 0, NULL, 0, true);",
        )
        .unwrap();
        migrate(&conn).unwrap();
        type Row = (u64, i64, u32, u32, u8, String, String, Option<String>, u8, Option<String>);
        let rows: Vec<Row> = conn
            .prepare(
                "SELECT session_id, duration_ms, pageviews, events, bounce, entry_page, exit_page, source,
                        channel, country FROM visits WHERE sign = 1 ORDER BY session_id",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                (
                    1,
                    180_000,
                    2,
                    1,
                    0,
                    "/".into(),
                    "/docs".into(),
                    Some("Google".into()),
                    1,
                    Some("DE".into())
                ),
                (2, 30_000, 1, 1, 0, "/x".into(), "/x".into(), None, 0, None),
                (3, 0, 1, 0, 1, "/y".into(), "/y".into(), None, 0, None),
            ]
        );
    }

    #[test]
    fn refuses_a_newer_schema() {
        let conn = Connection::open_in_memory().unwrap();
        migrate(&conn).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations VALUES (?, current_timestamp::TIMESTAMP)",
            [latest_version() + 1],
        )
        .unwrap();
        assert!(matches!(migrate(&conn), Err(Error::SchemaTooNew { .. })));
    }
}
