//! When reports are due, in the site's zone.
//!
//! A report covers a whole period of local days: a day, a week (Monday to Sunday) or a
//! calendar month. It is due at `report_hour` o'clock local time on the day after the
//! period (a daily report at 07:00 for the day before, a weekly one on Monday, a monthly
//! one on the first). Local times become UTC with the site's zone, so a week across a
//! daylight-saving change has 167 or 169 hours, and an hour that does not exist that day
//! is the first one that does.

use chrono::{Datelike, Days, Months, NaiveDate, NaiveTime};
use chrono_tz::Tz;
use hitkeep_store::Frequency;
use hitkeep_store::stats::{local_to_utc_ms, utc_to_local};

/// How far back a missed report is still sent (the process was down when it was due).
pub const CATCH_UP_MS: i64 = 7 * 24 * 3_600_000;

/// A period of whole local days: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// The first day.
    pub start: NaiveDate,
    /// The day after the last.
    pub end: NaiveDate,
}

impl Period {
    /// The period of `frequency` that holds `day`.
    pub fn containing(frequency: Frequency, day: NaiveDate) -> Self {
        match frequency {
            Frequency::Daily => Self { start: day, end: day + Days::new(1) },
            Frequency::Weekly => {
                let start = day - Days::new(u64::from(day.weekday().num_days_from_monday()));
                Self { start, end: start + Days::new(7) }
            }
            Frequency::Monthly => {
                let start = day.with_day(1).expect("every month has a first");
                Self { start, end: start + Months::new(1) }
            }
        }
    }

    /// The period of the same length before this one.
    pub fn previous(self, frequency: Frequency) -> Self {
        Self::containing(frequency, self.start - Days::new(1))
    }

    /// Its start and end as UTC instants, ms since the epoch.
    pub fn utc_ms(self, zone: Tz) -> (i64, i64) {
        (
            local_to_utc_ms(zone, self.start.and_time(NaiveTime::MIN)),
            local_to_utc_ms(zone, self.end.and_time(NaiveTime::MIN)),
        )
    }

    /// When its report is due: `hour` o'clock on its end day, local time.
    pub fn due_ms(self, zone: Tz, hour: u8) -> i64 {
        let time = NaiveTime::from_hms_opt(u32::from(hour.min(23)), 0, 0).expect("a valid hour");
        local_to_utc_ms(zone, self.end.and_time(time))
    }

    /// Its length in days.
    pub fn days(self) -> i64 {
        (self.end - self.start).num_days()
    }
}

/// The periods whose reports fell due after `since_ms` and by `now_ms`, oldest first: the
/// one due now, and those missed while nothing ran (at most [`CATCH_UP_MS`] back).
pub fn due_periods(zone: Tz, frequency: Frequency, hour: u8, since_ms: i64, now_ms: i64) -> Vec<Period> {
    let since_ms = since_ms.max(now_ms - CATCH_UP_MS);
    let today = utc_to_local(zone, now_ms).date();
    let mut period = Period::containing(frequency, today);
    let mut due = Vec::new();
    // The current period is not due before it ends; its predecessors are, one after the
    // other going back, until one fell due before `since_ms`.
    for _ in 0..40 {
        let at = period.due_ms(zone, hour);
        if at <= since_ms {
            break;
        }
        if at <= now_ms {
            due.push(period);
        }
        period = period.previous(frequency);
    }
    due.reverse();
    due
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn utc(zone: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
        local_to_utc_ms(zone, day(y, m, d).and_hms_opt(h, min, 0).unwrap())
    }

    #[test]
    fn periods_are_days_monday_weeks_and_calendar_months() {
        let wednesday = day(2026, 12, 9);
        assert_eq!(
            Period::containing(Frequency::Daily, wednesday),
            Period { start: wednesday, end: day(2026, 12, 10) }
        );
        assert_eq!(
            Period::containing(Frequency::Weekly, wednesday),
            Period { start: day(2026, 12, 7), end: day(2026, 12, 14) }
        );
        let december = Period::containing(Frequency::Monthly, wednesday);
        assert_eq!(december, Period { start: day(2026, 12, 1), end: day(2027, 1, 1) });
        assert_eq!(
            december.previous(Frequency::Monthly),
            Period { start: day(2026, 11, 1), end: day(2026, 12, 1) }
        );
        assert_eq!(Period::containing(Frequency::Monthly, day(2028, 2, 29)).days(), 29);
    }

    #[test]
    fn a_week_across_the_spring_change_in_new_york_has_167_hours_and_its_report_is_due_at_seven() {
        let zone: Tz = "America/New_York".parse().unwrap();
        // 2026-03-08: clocks go from 02:00 to 03:00.
        let week = Period::containing(Frequency::Weekly, day(2026, 3, 8));
        assert_eq!(week.start, day(2026, 3, 2));
        let (start, end) = week.utc_ms(zone);
        assert_eq!((end - start) / 3_600_000, 167);
        assert_eq!(week.due_ms(zone, 7), utc(zone, 2026, 3, 9, 7, 0));
        // 07:00 EDT is 11:00 UTC; the Monday before, 07:00 EST was 12:00 UTC.
        assert_eq!(week.due_ms(zone, 7) % 86_400_000 / 3_600_000, 11);
        assert_eq!(week.previous(Frequency::Weekly).due_ms(zone, 7) % 86_400_000 / 3_600_000, 12);
        // The hour that does not exist is the first that does.
        let day_report = Period::containing(Frequency::Daily, day(2026, 3, 7));
        assert_eq!(day_report.due_ms(zone, 2), utc(zone, 2026, 3, 8, 3, 0));
    }

    #[test]
    fn a_report_is_due_from_its_hour_and_missed_ones_are_caught_up() {
        let zone: Tz = "Europe/Berlin".parse().unwrap();
        let created = utc(zone, 2026, 12, 1, 12, 0);
        let before = utc(zone, 2026, 12, 7, 6, 59);
        let at = utc(zone, 2026, 12, 7, 7, 0);
        let weekly = |now| due_periods(zone, Frequency::Weekly, 7, created, now);
        assert_eq!(weekly(before), []);
        assert_eq!(weekly(at), [Period { start: day(2026, 11, 30), end: day(2026, 12, 7) }]);
        // Daily: every morning since the subscription, the first for the 1st itself.
        let daily = due_periods(zone, Frequency::Daily, 7, created, utc(zone, 2026, 12, 4, 8, 0));
        assert_eq!(daily.iter().map(|p| p.start.day()).collect::<Vec<_>>(), [1, 2, 3]);
        // Down for three weeks: only the last seven days' reports are caught up.
        let late = due_periods(zone, Frequency::Daily, 7, created, utc(zone, 2026, 12, 24, 12, 0));
        assert_eq!(late.len(), 7);
        assert_eq!(late.last().unwrap().start, day(2026, 12, 23));
        // Monthly: December's report on the first of January.
        let monthly = due_periods(zone, Frequency::Monthly, 7, created, utc(zone, 2027, 1, 1, 7, 30));
        assert_eq!(monthly, [Period { start: day(2026, 12, 1), end: day(2027, 1, 1) }]);
    }
}
