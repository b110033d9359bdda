//! Rows of `visits`: one visit's state as the ingest pipeline writes it (see migration 4 in
//! [`crate::schema`] for the table and its `sign` rows), and the open visits a restarted
//! pipeline picks up again.

use std::sync::Arc;

use duckdb::arrow::array::{
    Int8Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder, UInt8Builder, UInt32Builder,
    UInt64Builder,
};
use duckdb::arrow::record_batch::RecordBatch;
use hitkeep_protocol::{Channel, Device, HitRef};

use crate::Result;
use crate::events::{EventWriter, Millis, column, record_batch};

/// What a visit came with: the values of its first hit, shared by every row of the visit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VisitOrigin {
    /// Referring page (`host/path`).
    pub referrer: Option<Box<str>>,
    /// Referrer source name.
    pub source: Option<Box<str>>,
    /// Acquisition channel.
    pub channel: Channel,
    /// `utm_source`, `utm_medium`, `utm_campaign`, `utm_content`, `utm_term`.
    pub utm: [Option<Box<str>>; 5],
    /// ISO 3166-1 alpha-2 country.
    pub country: Option<Box<str>>,
    /// ISO 3166-2 region.
    pub region: Option<Box<str>>,
    /// City name.
    pub city: Option<Box<str>>,
    /// Browser family.
    pub browser: Option<Box<str>>,
    /// Browser version.
    pub browser_version: Option<Box<str>>,
    /// Operating system.
    pub os: Option<Box<str>>,
    /// Operating system version.
    pub os_version: Option<Box<str>>,
    /// Device class.
    pub device: Device,
}

impl VisitOrigin {
    /// The origin of a visit whose first hit is `hit`.
    pub fn of(hit: &HitRef<'_>) -> Self {
        let own = |value: Option<&str>| value.map(Box::from);
        let utm = &hit.utm;
        Self {
            referrer: own(hit.referrer),
            source: own(hit.source),
            channel: hit.channel,
            utm: [utm.source, utm.medium, utm.campaign, utm.content, utm.term].map(own),
            country: own(hit.country),
            region: own(hit.region),
            city: own(hit.city),
            browser: own(hit.browser),
            browser_version: own(hit.browser_version),
            os: own(hit.os),
            os_version: own(hit.os_version),
            device: hit.device,
        }
    }
}

/// One state of a visit, as a row of `visits` holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitRow {
    /// Site.
    pub site_id: u32,
    /// The session id (a visit is a session).
    pub session_id: u64,
    /// The visitor hash the session is stored under.
    pub visitor_id: u64,
    /// 1, 2, 3... for each state written.
    pub version: u32,
    /// First hit, ms since the epoch.
    pub start_ms: i64,
    /// Last hit, ms since the epoch.
    pub end_ms: i64,
    /// Pageviews.
    pub pageviews: u32,
    /// Custom events.
    pub events: u32,
    /// At most one pageview and nothing interactive.
    pub bounce: bool,
    /// Hostname of the first hit.
    pub hostname: Arc<str>,
    /// Path of the first pageview (of the first hit when there is none).
    pub entry_page: Arc<str>,
    /// Path of the last pageview (of the last hit when there is none).
    pub exit_page: Arc<str>,
    /// Where it came from, on which device.
    pub origin: Arc<VisitOrigin>,
}

impl VisitRow {
    /// True when `other` is the same state (the version aside).
    pub fn same_state(&self, other: &Self) -> bool {
        (self.start_ms, self.end_ms, self.pageviews, self.events, self.bounce)
            == (other.start_ms, other.end_ms, other.pageviews, other.events, other.bounce)
            && self.entry_page == other.entry_page
            && self.exit_page == other.exit_page
            && self.hostname == other.hostname
            && self.visitor_id == other.visitor_id
            && Arc::ptr_eq(&self.origin, &other.origin)
    }
}

/// The columns of `visits`, in schema order, being filled for one append.
#[derive(Default)]
pub(crate) struct VisitColumns {
    pub(crate) len: usize,
    site_id: UInt32Builder,
    session_id: UInt64Builder,
    visitor_id: UInt64Builder,
    sign: Int8Builder,
    version: UInt32Builder,
    start_ts: TimestampMicrosecondBuilder,
    end_ts: TimestampMicrosecondBuilder,
    duration_ms: Int64Builder,
    pageviews: UInt32Builder,
    events: UInt32Builder,
    bounce: UInt8Builder,
    hostname: StringBuilder,
    entry_page: StringBuilder,
    exit_page: StringBuilder,
    referrer: StringBuilder,
    source: StringBuilder,
    channel: UInt8Builder,
    utm: [StringBuilder; 5],
    country: StringBuilder,
    region: StringBuilder,
    city: StringBuilder,
    browser: StringBuilder,
    browser_version: StringBuilder,
    os: StringBuilder,
    os_version: StringBuilder,
    device: UInt8Builder,
}

impl VisitColumns {
    /// Adds `row` with `sign` (1: the visit's state; -1: cancels that earlier state).
    pub(crate) fn push(&mut self, row: &VisitRow, sign: i8) {
        debug_assert!(sign == 1 || sign == -1);
        self.len += 1;
        self.site_id.append_value(row.site_id);
        self.session_id.append_value(row.session_id);
        self.visitor_id.append_value(row.visitor_id);
        self.sign.append_value(sign);
        self.version.append_value(row.version);
        self.start_ts.append_value(row.start_ms * 1000);
        self.end_ts.append_value(row.end_ms * 1000);
        self.duration_ms.append_value(row.end_ms - row.start_ms);
        self.pageviews.append_value(row.pageviews);
        self.events.append_value(row.events);
        self.bounce.append_value(u8::from(row.bounce));
        self.hostname.append_value(&row.hostname);
        self.entry_page.append_value(&row.entry_page);
        self.exit_page.append_value(&row.exit_page);
        let origin = &row.origin;
        self.referrer.append_option(origin.referrer.as_deref());
        self.source.append_option(origin.source.as_deref());
        self.channel.append_value(origin.channel.code());
        for (column, value) in self.utm.iter_mut().zip(&origin.utm) {
            column.append_option(value.as_deref());
        }
        self.country.append_option(origin.country.as_deref());
        self.region.append_option(origin.region.as_deref());
        self.city.append_option(origin.city.as_deref());
        self.browser.append_option(origin.browser.as_deref());
        self.browser_version.append_option(origin.browser_version.as_deref());
        self.os.append_option(origin.os.as_deref());
        self.os_version.append_option(origin.os_version.as_deref());
        self.device.append_value(origin.device.code());
    }

    pub(crate) fn finish(mut self) -> Result<RecordBatch> {
        let [utm_source, utm_medium, utm_campaign, utm_content, utm_term] =
            self.utm.map(|mut b| column(b.finish()));
        record_batch(vec![
            ("site_id", column(self.site_id.finish())),
            ("session_id", column(self.session_id.finish())),
            ("visitor_id", column(self.visitor_id.finish())),
            ("sign", column(self.sign.finish())),
            ("version", column(self.version.finish())),
            ("start_ts", column(self.start_ts.finish())),
            ("end_ts", column(self.end_ts.finish())),
            ("duration_ms", column(self.duration_ms.finish())),
            ("pageviews", column(self.pageviews.finish())),
            ("events", column(self.events.finish())),
            ("bounce", column(self.bounce.finish())),
            ("hostname", column(self.hostname.finish())),
            ("entry_page", column(self.entry_page.finish())),
            ("exit_page", column(self.exit_page.finish())),
            ("referrer", column(self.referrer.finish())),
            ("source", column(self.source.finish())),
            ("channel", column(self.channel.finish())),
            ("utm_source", utm_source),
            ("utm_medium", utm_medium),
            ("utm_campaign", utm_campaign),
            ("utm_content", utm_content),
            ("utm_term", utm_term),
            ("country", column(self.country.finish())),
            ("region", column(self.region.finish())),
            ("city", column(self.city.finish())),
            ("browser", column(self.browser.finish())),
            ("browser_version", column(self.browser_version.finish())),
            ("os", column(self.os.finish())),
            ("os_version", column(self.os_version.finish())),
            ("device", column(self.device.finish())),
        ])
    }
}

impl EventWriter {
    /// The live state of every visit with a hit at or after `since_ms`: what a restarted
    /// pipeline needs to go on with the visits that may still be open.
    pub fn open_visits(&self, since_ms: i64) -> Result<Vec<VisitRow>> {
        let mut statement = self.conn().prepare(
            "SELECT site_id, session_id, visitor_id, version, epoch_ms(start_ts), epoch_ms(end_ts),
                    pageviews, events, bounce, hostname, entry_page, exit_page, referrer, source,
                    channel, utm_source, utm_medium, utm_campaign, utm_content, utm_term, country,
                    region, city, browser, browser_version, os, os_version, device
             FROM visits WHERE end_ts >= ? AND sign = 1
             QUALIFY row_number() OVER (PARTITION BY session_id ORDER BY version DESC) = 1",
        )?;
        let rows = statement.query_map([Millis(since_ms)], |row| {
            let text = |index: usize| -> duckdb::Result<Option<Box<str>>> {
                Ok(row.get::<_, Option<String>>(index)?.map(String::into_boxed_str))
            };
            let origin = VisitOrigin {
                referrer: text(12)?,
                source: text(13)?,
                channel: Channel::from_code(row.get(14)?).unwrap_or_default(),
                utm: [text(15)?, text(16)?, text(17)?, text(18)?, text(19)?],
                country: text(20)?,
                region: text(21)?,
                city: text(22)?,
                browser: text(23)?,
                browser_version: text(24)?,
                os: text(25)?,
                os_version: text(26)?,
                device: Device::from_code(row.get(27)?).unwrap_or_default(),
            };
            Ok(VisitRow {
                site_id: row.get(0)?,
                session_id: row.get(1)?,
                visitor_id: row.get(2)?,
                version: row.get(3)?,
                start_ms: row.get(4)?,
                end_ms: row.get(5)?,
                pageviews: row.get(6)?,
                events: row.get(7)?,
                bounce: row.get::<_, u8>(8)? != 0,
                hostname: Arc::from(row.get::<_, String>(9)?),
                entry_page: Arc::from(row.get::<_, String>(10)?),
                exit_page: Arc::from(row.get::<_, String>(11)?),
                origin: Arc::new(origin),
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BatchWrite, EventRowsBuilder, Store};

    const T0: i64 = 1_767_225_600_000;

    fn visit(session_id: u64, version: u32, end_ms: i64, exit_page: &str) -> VisitRow {
        VisitRow {
            site_id: 1,
            session_id,
            visitor_id: 70 + session_id,
            version,
            start_ms: T0,
            end_ms,
            pageviews: version,
            events: 0,
            bounce: version == 1,
            hostname: Arc::from("example.com"),
            entry_page: Arc::from("/"),
            exit_page: Arc::from(exit_page),
            origin: Arc::new(VisitOrigin {
                source: Some("Hacker News".into()),
                utm: [None, None, Some("launch".into()), None, None],
                country: Some("DE".into()),
                device: Device::Mobile,
                ..VisitOrigin::default()
            }),
        }
    }

    #[test]
    fn states_and_cancellations_sum_to_the_live_state() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_dir(dir.path()).unwrap();
        let mut writer = store.event_writer().unwrap();
        let batch = |id| BatchWrite { id, edge: "e", hits: 1, dead_letters: &[], stream_seq: None };
        let first = visit(1, 1, T0, "/");
        let second = visit(1, 2, T0 + 60_000, "/pricing");
        let other = visit(2, 1, T0 - 3_600_000, "/old");
        let mut rows = EventRowsBuilder::default();
        rows.push_visit(&first, 1);
        rows.push_visit(&other, 1);
        writer.commit(&rows.finish().unwrap(), &[batch("b-1")], T0).unwrap();
        let mut rows = EventRowsBuilder::default();
        rows.push_visit(&first, -1);
        rows.push_visit(&second, 1);
        writer.commit(&rows.finish().unwrap(), &[batch("b-2")], T0).unwrap();

        let sums: (i64, i64, i64, i64) = store
            .conn()
            .query_row(
                "SELECT sum(sign), sum(sign * pageviews), sum(sign * bounce), sum(sign * duration_ms)
                 FROM visits WHERE session_id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(sums, (1, 2, 0, 60_000));
        // A restarted pipeline gets the live state of the visits that may be open.
        assert_eq!(writer.open_visits(T0 - 60_000).unwrap(), std::slice::from_ref(&second));
        let mut all = writer.open_visits(T0 - 7_200_000).unwrap();
        all.sort_by_key(|row| row.session_id);
        assert_eq!(all, [second, other]);
        assert_eq!(writer.max_session_id().unwrap(), 2);
    }
}
