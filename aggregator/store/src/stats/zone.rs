//! Time zones for the stats engine, computed in Rust (DuckDB is built without ICU): the
//! UTC offsets that apply over a query's range, handed to SQL as bound values, and the
//! labels of time buckets in the site's zone.
//!
//! A bucket is a span of local time (an hour, a day...): on the day clocks go forward a day
//! bucket holds 23 hours of events, on the day they go back 25, and the repeated local hour
//! of that night is one bucket holding two hours.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike};
use chrono_tz::Tz;

/// The width of a time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interval {
    /// A minute.
    Minute,
    /// An hour.
    Hour,
    /// A day.
    Day,
    /// A week, from Monday.
    Week,
    /// A calendar month.
    Month,
}

impl Interval {
    /// The width of a bucket whose start is a multiple of it in local time (minutes, hours,
    /// days); `None` for weeks and months.
    pub(crate) fn width_ms(self) -> Option<i64> {
        match self {
            Self::Minute => Some(60_000),
            Self::Hour => Some(3_600_000),
            Self::Day => Some(86_400_000),
            Self::Week | Self::Month => None,
        }
    }

    /// The local time truncated to the start of its bucket.
    pub(crate) fn truncate(self, local: NaiveDateTime) -> NaiveDateTime {
        let date = local.date();
        let midnight = |date: NaiveDate| date.and_hms_opt(0, 0, 0).expect("midnight exists");
        match self {
            Self::Minute => local.with_second(0).and_then(|t| t.with_nanosecond(0)).expect("valid"),
            Self::Hour => local.date().and_hms_opt(local.hour(), 0, 0).expect("valid"),
            Self::Day => midnight(date),
            Self::Week => midnight(date - Duration::days(i64::from(date.weekday().num_days_from_monday()))),
            Self::Month => midnight(date.with_day(1).expect("the first exists")),
        }
    }

    fn next(self, start: NaiveDateTime) -> NaiveDateTime {
        match self {
            Self::Minute => start + Duration::minutes(1),
            Self::Hour => start + Duration::hours(1),
            Self::Day => start + Duration::days(1),
            Self::Week => start + Duration::days(7),
            Self::Month => start.checked_add_months(Months::new(1)).expect("in range"),
        }
    }
}

/// The offset (ms, local minus UTC) of `zone` at `utc_ms`.
pub fn offset_ms(zone: Tz, utc_ms: i64) -> i64 {
    let instant = DateTime::from_timestamp_millis(utc_ms).unwrap_or_default().naive_utc();
    i64::from(zone.offset_from_utc_datetime(&instant).fix().local_minus_utc()) * 1000
}

/// The offsets that apply over `[start_ms, end_ms)`: `(until_ms, offset_ms)` pieces in
/// order, each valid before its `until_ms`; the last one's `until_ms` is `i64::MAX`.
pub(crate) fn offsets(zone: Tz, start_ms: i64, end_ms: i64) -> Vec<(i64, i64)> {
    const HOUR_MS: i64 = 3_600_000;
    let mut pieces = Vec::new();
    let mut current = offset_ms(zone, start_ms);
    let mut probe = start_ms;
    // Zones change their offset at most a few times a year, and never twice within an hour.
    while probe < end_ms {
        let next = (probe + HOUR_MS).min(end_ms);
        let offset = offset_ms(zone, next);
        if offset != current {
            // The change is in (probe, next]: find its first millisecond.
            let (mut before, mut after) = (probe, next);
            while after - before > 1 {
                let middle = before + (after - before) / 2;
                if offset_ms(zone, middle) == current {
                    before = middle;
                } else {
                    after = middle;
                }
            }
            pieces.push((after, current));
            current = offset;
        }
        probe = next;
    }
    pieces.push((i64::MAX, current));
    pieces
}

/// A local time in `zone` as UTC ms; a local time skipped by a change of clocks is taken
/// as the instant the clocks changed, a repeated one as its first occurrence.
pub fn local_to_utc_ms(zone: Tz, local: NaiveDateTime) -> i64 {
    let mut probe = local;
    for _ in 0..=24 * 4 {
        if let Some(instant) = zone.from_local_datetime(&probe).earliest() {
            return instant.timestamp_millis();
        }
        probe += Duration::minutes(15);
    }
    local.and_utc().timestamp_millis()
}

/// The local time of `utc_ms` in `zone`.
pub fn utc_to_local(zone: Tz, utc_ms: i64) -> NaiveDateTime {
    DateTime::from_timestamp_millis(utc_ms).unwrap_or_default().with_timezone(&zone).naive_local()
}

/// Every bucket of `interval` in `[start_ms, end_ms)`, as local times (ms since the epoch
/// of the local time, as the engine's [`super::DimensionValue::Time`] carries them).
pub fn bucket_starts(zone: Tz, start_ms: i64, end_ms: i64, interval: Interval) -> Vec<i64> {
    if end_ms <= start_ms {
        return Vec::new();
    }
    let first = interval.truncate(utc_to_local(zone, start_ms));
    let last = interval.truncate(utc_to_local(zone, end_ms - 1));
    let mut starts = Vec::new();
    let mut bucket = first;
    while bucket <= last && starts.len() < 100_000 {
        starts.push(bucket.and_utc().timestamp_millis());
        bucket = interval.next(bucket);
    }
    starts
}

/// A bucket's label: `2026-03-08` for days, weeks and months, `2026-03-08 14:00:00` for
/// hours and minutes.
pub fn bucket_label(interval: Interval, local_ms: i64) -> String {
    let local = DateTime::from_timestamp_millis(local_ms).unwrap_or_default().naive_utc();
    match interval {
        Interval::Day | Interval::Week | Interval::Month => local.format("%Y-%m-%d").to_string(),
        Interval::Hour | Interval::Minute => local.format("%Y-%m-%d %H:%M:%S").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> i64 {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap().and_utc().timestamp_millis()
    }

    #[test]
    fn offsets_change_at_the_exact_instant_clocks_do() {
        let zone: Tz = "America/New_York".parse().unwrap();
        // 2026-03-08 02:00 EST (07:00 UTC) clocks go forward to 03:00 EDT.
        let pieces = offsets(zone, utc("2026-03-01 00:00:00"), utc("2026-03-31 00:00:00"));
        assert_eq!(pieces, [(utc("2026-03-08 07:00:00"), -5 * 3_600_000), (i64::MAX, -4 * 3_600_000)]);
        let none = offsets(zone, utc("2026-06-01 00:00:00"), utc("2026-06-30 00:00:00"));
        assert_eq!(none, [(i64::MAX, -4 * 3_600_000)]);
    }

    #[test]
    fn day_buckets_follow_local_midnight_across_a_change_of_clocks() {
        let zone: Tz = "America/New_York".parse().unwrap();
        let start =
            local_to_utc_ms(zone, NaiveDate::from_ymd_opt(2026, 3, 7).unwrap().and_hms_opt(0, 0, 0).unwrap());
        let end = local_to_utc_ms(
            zone,
            NaiveDate::from_ymd_opt(2026, 3, 10).unwrap().and_hms_opt(0, 0, 0).unwrap(),
        );
        assert_eq!(start, utc("2026-03-07 05:00:00"));
        assert_eq!(end, utc("2026-03-10 04:00:00"));
        let labels: Vec<String> = bucket_starts(zone, start, end, Interval::Day)
            .into_iter()
            .map(|b| bucket_label(Interval::Day, b))
            .collect();
        assert_eq!(labels, ["2026-03-07", "2026-03-08", "2026-03-09"]);
        let hours = bucket_starts(zone, start, end, Interval::Hour);
        assert_eq!(hours.len(), 72, "the skipped hour has a label, with nothing in it");
        assert_eq!(bucket_label(Interval::Hour, hours[1]), "2026-03-07 01:00:00");
        // A local time the clocks skip is the instant they changed.
        let skipped = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap().and_hms_opt(2, 30, 0).unwrap();
        assert_eq!(local_to_utc_ms(zone, skipped), utc("2026-03-08 07:00:00"));
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        let zone: Tz = "Europe/Berlin".parse().unwrap();
        let weeks =
            bucket_starts(zone, utc("2026-03-04 12:00:00"), utc("2026-03-20 00:00:00"), Interval::Week);
        let labels: Vec<String> = weeks.into_iter().map(|b| bucket_label(Interval::Week, b)).collect();
        assert_eq!(labels, ["2026-03-02", "2026-03-09", "2026-03-16"]);
        let months =
            bucket_starts(zone, utc("2026-01-31 23:30:00"), utc("2026-03-02 00:00:00"), Interval::Month);
        let labels: Vec<String> = months.into_iter().map(|b| bucket_label(Interval::Month, b)).collect();
        // 23:30 UTC on 31 January is 00:30 on 1 February in Berlin.
        assert_eq!(labels, ["2026-02-01", "2026-03-01"]);
    }
}
