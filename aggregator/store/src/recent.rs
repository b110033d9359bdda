//! The most recent stored events of a site, as they were stored: what `hitkeep events`
//! prints, for an operator checking that a site's tracking works.

use serde::Serialize;

use hitkeep_protocol::{Channel, Device, EventKind, Hit, Revenue, Utm};

use crate::{Error, Result, Store};

/// Most events one listing returns.
pub const MAX_RECENT_EVENTS: u32 = 10_000;

/// A stored event with its session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredEvent {
    /// The visitor hash its session started with.
    pub visitor_id: u64,
    /// Its session.
    pub session_id: u64,
    /// The event (its `visitor` is `visitor_id`; `visitor_prev` is not stored and reads 0).
    pub hit: Hit,
}

const COLUMNS: &str =
    "epoch_ms(ts), visitor_id, session_id, kind, name, hostname, path, referrer, source, channel,
     utm_source, utm_medium, utm_campaign, utm_content, utm_term, country, region, city, browser,
     browser_version, os, os_version, device, revenue_micros, revenue_currency, interactive";

impl Store {
    /// The `limit` most recent events of a site, newest first, with their properties.
    pub fn recent_events(&self, domain: &str, limit: u32) -> Result<Vec<StoredEvent>> {
        let site = self.site(domain)?;
        let limit = limit.min(MAX_RECENT_EVENTS);
        let conn = self.conn();
        let mut statement = conn
            .prepare(&format!("SELECT {COLUMNS} FROM events WHERE site_id = ? ORDER BY ts DESC LIMIT ?"))?;
        let mut events = statement
            .query_map(duckdb::params![site.id, limit], |row| {
                let code = |index: usize| row.get::<_, u8>(index);
                let revenue = match (row.get::<_, Option<i64>>(23)?, row.get::<_, Option<String>>(24)?) {
                    (Some(amount_micros), Some(currency)) => Some(Revenue { amount_micros, currency }),
                    _ => None,
                };
                Ok((
                    code(3)?,
                    code(9)?,
                    code(22)?,
                    StoredEvent {
                        visitor_id: row.get(1)?,
                        session_id: row.get(2)?,
                        hit: Hit {
                            ts: row.get(0)?,
                            domain: site.domain.clone(),
                            kind: EventKind::Pageview,
                            name: row.get(4)?,
                            visitor: row.get(1)?,
                            visitor_prev: 0,
                            hostname: row.get(5)?,
                            path: row.get(6)?,
                            referrer: row.get(7)?,
                            source: row.get(8)?,
                            channel: Channel::default(),
                            utm: Utm {
                                source: row.get(10)?,
                                medium: row.get(11)?,
                                campaign: row.get(12)?,
                                content: row.get(13)?,
                                term: row.get(14)?,
                            },
                            country: row.get(15)?,
                            region: row.get(16)?,
                            city: row.get(17)?,
                            browser: row.get(18)?,
                            browser_version: row.get(19)?,
                            os: row.get(20)?,
                            os_version: row.get(21)?,
                            device: Device::default(),
                            props: Vec::new(),
                            revenue,
                            interactive: row.get(25)?,
                        },
                    },
                ))
            })?
            .map(|row| {
                let (kind, channel, device, mut event) = row?;
                let unknown = |what: &'static str, code: u8| Error::Invalid {
                    field: what,
                    reason: format!("stored code {code} is unknown to this build"),
                };
                event.hit.kind = EventKind::from_code(kind).ok_or_else(|| unknown("kind", kind))?;
                event.hit.channel = Channel::from_code(channel).ok_or_else(|| unknown("channel", channel))?;
                event.hit.device = Device::from_code(device).ok_or_else(|| unknown("device", device))?;
                Ok(event)
            })
            .collect::<Result<Vec<_>>>()?;
        // Properties are keyed by the event's site, time, session and name.
        if let Some(oldest) = events.last().map(|event| event.hit.ts) {
            let mut statement = conn.prepare(
                "SELECT epoch_ms(ts), session_id, name, key, value FROM event_props
                 WHERE site_id = ? AND ts >= make_timestamp(? * 1000) ORDER BY rowid",
            )?;
            let mut rows = statement.query(duckdb::params![site.id, oldest])?;
            while let Some(row) = rows.next()? {
                let (ts, session, name): (i64, u64, String) = (row.get(0)?, row.get(1)?, row.get(2)?);
                if let Some(event) = events
                    .iter_mut()
                    .find(|event| event.hit.ts == ts && event.session_id == session && event.hit.name == name)
                {
                    event.hit.props.push((row.get(3)?, row.get(4)?));
                }
            }
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use hitkeep_protocol::Hit;

    use crate::{BatchWrite, EventRows, NewEvent, Store};

    #[test]
    fn lists_the_newest_events_with_their_properties() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path()).unwrap();
        let site = store.add_site("example.com", "UTC").unwrap();
        let mut hits: Vec<Hit> = (0..3)
            .map(|i| {
                let mut hit: Hit = serde_json::from_value(serde_json::json!({
                    "ts": 1_767_225_600_000i64 + i * 1000, "domain": "example.com", "kind": "pageview",
                    "name": "pageview", "visitor": 5, "visitor_prev": 6, "hostname": "example.com",
                    "path": format!("/p{i}"), "channel": "direct", "device": "desktop"
                }))
                .unwrap();
                hit.browser = Some("Firefox".into());
                hit
            })
            .collect();
        hits[2].kind = hitkeep_protocol::EventKind::Custom;
        hits[2].name = "Signup".into();
        hits[2].props = vec![("plan".into(), "pro".into())];
        let events: Vec<NewEvent<'_>> = hits
            .iter()
            .map(|hit| NewEvent { hit: hit.view(), site_id: site.id, visitor_id: 5, session_id: 9 })
            .collect();
        let rows = EventRows::build(&events).unwrap();
        let mut writer = store.event_writer().unwrap();
        writer
            .commit(
                &rows,
                &[BatchWrite { id: "b", edge: "e", hits: 3, dead_letters: &[], stream_seq: None }],
                0,
            )
            .unwrap();

        let recent = store.recent_events("example.com", 2).unwrap();
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[0].hit.name, "Signup");
        assert_eq!(recent[0].hit.props, [("plan".to_string(), "pro".to_string())]);
        assert_eq!(recent[0].session_id, 9);
        assert_eq!(recent[1].hit.path, "/p1");
        assert_eq!(recent[1].hit.browser.as_deref(), Some("Firefox"));
        assert!(store.recent_events("missing.example", 2).is_err());
    }
}
