//! Sites: the domains Hitkeep counts, each with the time zone its reports use.

use duckdb::{OptionalExt, params};

use crate::{Error, Result, Store};

/// A tracked site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// Stable numeric id, used in every event row.
    pub id: u32,
    /// The domain, lower case (`example.com`).
    pub domain: String,
    /// IANA time zone of its reports (`Europe/Berlin`).
    pub timezone: String,
    /// When it was added, in milliseconds since the epoch (UTC).
    pub created_at_ms: i64,
    /// The privacy rules edges apply to its hits.
    pub rules: SiteRules,
    /// Days its events are kept (0: for ever); `None`: the instance's default.
    pub retention_days: Option<u32>,
}

/// Privacy rules of a site, applied at the edge before a hit is counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteRules {
    /// Drop hits from browsers that send `DNT: 1`.
    pub honor_dnt: bool,
    /// Drop hits from browsers that send `Sec-GPC: 1`.
    pub honor_gpc: bool,
    /// Client addresses or CIDR ranges whose hits are dropped (the office, say).
    pub excluded_ip_ranges: Vec<String>,
    /// Path patterns whose hits are dropped (`/admin/**`).
    pub excluded_paths: Vec<String>,
    /// Host name patterns that count; empty means any (`*.example.com`).
    pub allowed_hostnames: Vec<String>,
}

impl Default for SiteRules {
    fn default() -> Self {
        Self {
            honor_dnt: true,
            honor_gpc: true,
            excluded_ip_ranges: Vec::new(),
            excluded_paths: Vec::new(),
            allowed_hostnames: Vec::new(),
        }
    }
}

const MAX_RULES: usize = 100;
const MAX_RULE_LEN: usize = 256;

fn join_rules(field: &'static str, rules: &[String]) -> Result<String> {
    if rules.len() > MAX_RULES {
        return Err(Error::Invalid { field, reason: format!("at most {MAX_RULES} entries") });
    }
    for rule in rules {
        if rule.trim().is_empty() || rule.len() > MAX_RULE_LEN || rule.contains(['\n', '\r']) {
            return Err(Error::Invalid {
                field,
                reason: format!("entries are 1 to {MAX_RULE_LEN} characters on one line"),
            });
        }
    }
    Ok(rules.iter().map(|rule| rule.trim()).collect::<Vec<_>>().join("\n"))
}

fn split_rules(joined: String) -> Vec<String> {
    joined.lines().filter(|line| !line.is_empty()).map(str::to_string).collect()
}

const SITE_COLUMNS: &str = "id, domain, timezone, epoch_ms(created_at), honor_dnt, honor_gpc, excluded_ip_ranges, excluded_paths, allowed_hostnames, (SELECT r.days FROM site_retention r WHERE r.site_id = sites.id)";

/// [`SITE_COLUMNS`] of a site being added (it has no retention of its own yet).
const NEW_SITE_COLUMNS: &str = "id, domain, timezone, epoch_ms(created_at), honor_dnt, honor_gpc, excluded_ip_ranges, excluded_paths, allowed_hostnames, NULL::UINTEGER";

/// Lower-cases a domain and checks that it is a host name (no scheme, path or port).
pub fn normalize_domain(domain: &str) -> Result<String> {
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let invalid = |reason: &str| Error::Invalid { field: "domain", reason: reason.to_string() };
    if domain.is_empty() || domain.len() > hitkeep_protocol::limits::MAX_DOMAIN_LEN {
        return Err(invalid("must be 1 to 253 characters"));
    }
    if domain.contains("://") || domain.contains('/') || domain.contains(':') {
        return Err(invalid("give the bare host name, without scheme, port or path"));
    }
    for label in domain.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(invalid("every label must be 1 to 63 characters"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(invalid("labels must not start or end with `-`"));
        }
        if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(invalid("only letters, digits, `-` and `_` are allowed (use punycode)"));
        }
    }
    Ok(domain)
}

/// Checks that `timezone` is an IANA time zone name.
pub fn validate_timezone(timezone: &str) -> Result<()> {
    timezone.parse::<chrono_tz::Tz>().map(|_| ()).map_err(|_| Error::Invalid {
        field: "timezone",
        reason: format!("`{timezone}` is not an IANA time zone name (like `Europe/Berlin` or `UTC`)"),
    })
}

impl Store {
    /// Adds a site.
    pub fn add_site(&self, domain: &str, timezone: &str) -> Result<Site> {
        let domain = normalize_domain(domain)?;
        validate_timezone(timezone)?;
        let conn = self.conn();
        let exists: Option<u32> = conn
            .query_row("SELECT id FROM sites WHERE domain = ?", [&domain], |row| row.get(0))
            .optional()?;
        if exists.is_some() {
            return Err(Error::SiteExists(domain));
        }
        let site = conn.query_row(
            &format!(
                "INSERT INTO sites (id, domain, timezone, created_at)
                 VALUES (nextval('site_id_seq'), ?, ?, current_timestamp::TIMESTAMP)
                 RETURNING {NEW_SITE_COLUMNS}"
            ),
            params![domain, timezone],
            site_from_row,
        )?;
        tracing::info!(site_id = site.id, "site added");
        Ok(site)
    }

    /// Every site, by domain.
    pub fn sites(&self) -> Result<Vec<Site>> {
        let conn = self.conn();
        let mut statement = conn.prepare(&format!("SELECT {SITE_COLUMNS} FROM sites ORDER BY domain"))?;
        let sites = statement.query_map([], site_from_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(sites)
    }

    /// The site with this domain.
    pub fn site(&self, domain: &str) -> Result<Site> {
        let domain = normalize_domain(domain)?;
        self.conn()
            .query_row(
                &format!("SELECT {SITE_COLUMNS} FROM sites WHERE domain = ?"),
                [&domain],
                site_from_row,
            )
            .optional()?
            .ok_or(Error::SiteNotFound(domain))
    }

    /// Replaces a site's privacy rules.
    pub fn set_site_rules(&self, domain: &str, rules: &SiteRules) -> Result<Site> {
        let site = self.site(domain)?;
        let excluded_ip_ranges = join_rules("excluded_ip_ranges", &rules.excluded_ip_ranges)?;
        let excluded_paths = join_rules("excluded_paths", &rules.excluded_paths)?;
        let allowed_hostnames = join_rules("allowed_hostnames", &rules.allowed_hostnames)?;
        self.conn().execute(
            "UPDATE sites SET honor_dnt = ?, honor_gpc = ?, excluded_ip_ranges = ?, excluded_paths = ?,
                              allowed_hostnames = ?
             WHERE id = ?",
            params![
                rules.honor_dnt,
                rules.honor_gpc,
                excluded_ip_ranges,
                excluded_paths,
                allowed_hostnames,
                site.id
            ],
        )?;
        self.site(&site.domain)
    }

    /// Changes the zone a site's reports use. The daily rollups were cut in the old zone's
    /// days, so they go, in the same transaction: queries read the events until the builder
    /// has built the days again in the new zone (it would also ignore days built in another
    /// zone, see `stats::rollup`, but they would only take space).
    pub fn set_site_timezone(&self, domain: &str, timezone: &str) -> Result<Site> {
        validate_timezone(timezone)?;
        let site = self.site(domain)?;
        if site.timezone == timezone {
            return Ok(site);
        }
        crate::in_transaction(&self.conn(), |conn| {
            conn.execute("UPDATE sites SET timezone = ? WHERE id = ?", params![timezone, site.id])?;
            conn.execute("DELETE FROM rollups WHERE site_id = ?", [site.id])?;
            conn.execute("DELETE FROM rollup_days WHERE site_id = ?", [site.id])?;
            conn.execute("DELETE FROM rollup_dirty WHERE site_id = ?", [site.id])?;
            Ok(())
        })?;
        tracing::info!(site_id = site.id, "site time zone changed");
        self.site(&site.domain)
    }

    /// Removes a site and every event recorded for it, in one transaction.
    pub fn remove_site(&self, domain: &str) -> Result<Site> {
        let site = self.site(domain)?;
        let conn = self.conn();
        conn.execute_batch("BEGIN TRANSACTION")?;
        let removed = (|| -> duckdb::Result<()> {
            conn.execute("DELETE FROM event_props WHERE site_id = ?", [site.id])?;
            conn.execute("DELETE FROM events WHERE site_id = ?", [site.id])?;
            conn.execute("DELETE FROM visits WHERE site_id = ?", [site.id])?;
            conn.execute("DELETE FROM rollups WHERE site_id = ?", [site.id])?;
            conn.execute("DELETE FROM rollup_days WHERE site_id = ?", [site.id])?;
            conn.execute("DELETE FROM rollup_dirty WHERE site_id = ?", [site.id])?;
            conn.execute("DELETE FROM goals WHERE site_id = ?", [site.id])?;
            conn.execute("DELETE FROM site_retention WHERE site_id = ?", [site.id])?;
            conn.execute("DELETE FROM funnels WHERE site_id = ?", [site.id])?;
            conn.execute(
                "UPDATE mail_outbox SET status = 5 WHERE status = 0 AND ((kind = 1 AND ref_id IN
                     (SELECT id FROM report_subscriptions WHERE site_id = ?))
                 OR (kind = 2 AND ref_id IN (SELECT id FROM site_alerts WHERE site_id = ?)))",
                [site.id, site.id],
            )?;
            conn.execute("DELETE FROM report_subscriptions WHERE site_id = ?", [site.id])?;
            conn.execute("DELETE FROM imported_stats WHERE site_id = ?", [site.id])?;
            conn.execute("DELETE FROM site_imports WHERE site_id = ?", [site.id])?;
            conn.execute("DELETE FROM site_alerts WHERE site_id = ?", [site.id])?;
            // Nobody keeps a role on, a token for, an invitation to or a share link of a site
            // that is gone.
            conn.execute("DELETE FROM site_members WHERE site_id = ?", [site.id])?;
            conn.execute("DELETE FROM api_token_sites WHERE site_id = ?", [site.id])?;
            conn.execute("DELETE FROM invitations WHERE site_id = ?", [site.id])?;
            conn.execute(
                "DELETE FROM share_sessions WHERE link_id IN (SELECT id FROM share_links WHERE site_id = ?)",
                [site.id],
            )?;
            conn.execute("DELETE FROM share_links WHERE site_id = ?", [site.id])?;
            conn.execute("DELETE FROM sites WHERE id = ?", [site.id])?;
            Ok(())
        })();
        match removed {
            Ok(()) => conn.execute_batch("COMMIT")?,
            Err(error) => {
                conn.execute_batch("ROLLBACK")?;
                return Err(error.into());
            }
        }
        tracing::info!(site_id = site.id, "site removed");
        Ok(site)
    }
}

fn site_from_row(row: &duckdb::Row<'_>) -> duckdb::Result<Site> {
    Ok(Site {
        id: row.get(0)?,
        domain: row.get(1)?,
        timezone: row.get(2)?,
        created_at_ms: row.get(3)?,
        rules: SiteRules {
            honor_dnt: row.get(4)?,
            honor_gpc: row.get(5)?,
            excluded_ip_ranges: split_rules(row.get(6)?),
            excluded_paths: split_rules(row.get(7)?),
            allowed_hostnames: split_rules(row.get(8)?),
        },
        retention_days: row.get(9)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_domains() {
        assert_eq!(normalize_domain(" Example.COM. ").unwrap(), "example.com");
        assert_eq!(normalize_domain("shop.example.co.uk").unwrap(), "shop.example.co.uk");
        for bad in [
            "",
            "https://example.com",
            "example.com/blog",
            "example.com:8080",
            "a..b",
            "-a.com",
            "ex ample.com",
        ] {
            assert!(normalize_domain(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validates_timezones() {
        assert!(validate_timezone("Europe/Berlin").is_ok());
        assert!(validate_timezone("UTC").is_ok());
        assert!(validate_timezone("Mars/Olympus").is_err());
    }

    #[test]
    fn adds_lists_and_removes_sites() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path()).unwrap();
        let site = store.add_site("Example.com", "Europe/Berlin").unwrap();
        assert_eq!(site.domain, "example.com");
        assert!(matches!(store.add_site("example.com", "UTC"), Err(Error::SiteExists(_))));
        let other = store.add_site("other.org", "UTC").unwrap();
        assert_ne!(site.id, other.id);
        let domains: Vec<_> = store.sites().unwrap().into_iter().map(|s| s.domain).collect();
        assert_eq!(domains, ["example.com", "other.org"]);
        store.remove_site("example.com").unwrap();
        assert!(matches!(store.remove_site("example.com"), Err(Error::SiteNotFound(_))));
        assert_eq!(other.rules, SiteRules::default());
        let rules = SiteRules {
            honor_dnt: false,
            excluded_paths: vec!["/admin/**".into(), " /preview/* ".into()],
            ..SiteRules::default()
        };
        let updated = store.set_site_rules("other.org", &rules).unwrap();
        assert!(!updated.rules.honor_dnt);
        assert_eq!(updated.rules.excluded_paths, ["/admin/**", "/preview/*"]);
        let bad = SiteRules { allowed_hostnames: vec!["a\nb".into()], ..SiteRules::default() };
        assert!(store.set_site_rules("other.org", &bad).is_err());
        // Ids are never reused.
        let again = store.add_site("example.com", "UTC").unwrap();
        assert!(again.id > other.id);
        drop(store);
        let reopened = Store::open_dir(dir.path()).unwrap();
        assert_eq!(reopened.sites().unwrap().len(), 2);
    }
}
