//! The shape of a visit: how many pageviews and custom events it has, the pauses between
//! them, and how many of its hits fit before the end of the time span.

use crate::random::{Draw, SmallStream};
use crate::site::SiteKind;

/// Longest visit, in pageviews. Keeps the plan of custom events in one `u64` bitmask.
const MAX_PAGEVIEWS: u32 = 40;

/// A pause between two hits of a visit: `floor_ms` plus an exponential with mean `mean_ms`,
/// capped at `max_ms` (all pauses stay under the 30-minute session timeout).
struct Pause {
    floor_ms: f64,
    mean_ms: f64,
    max_ms: f64,
}

impl Pause {
    fn draw(&self, stream: &mut impl Draw) -> i64 {
        (self.floor_ms + stream.exponential(self.mean_ms)).min(self.max_ms) as i64
    }
}

/// Time on a page before the next one, for most pages (skimming)...
const SKIM: Pause = Pause { floor_ms: 3_000.0, mean_ms: 25_000.0, max_ms: MAX_PAUSE_MS as f64 };
/// ...and for the rest (reading).
const READ: Pause = Pause { floor_ms: 10_000.0, mean_ms: 150_000.0, max_ms: MAX_PAUSE_MS as f64 };
const SKIM_CHANCE: f64 = 0.7;
/// From a pageview to the custom event that follows it.
const REACT: Pause = Pause { floor_ms: 1_000.0, mean_ms: 8_000.0, max_ms: 5.0 * 60_000.0 };
/// The longest pause of any kind.
const MAX_PAUSE_MS: i64 = 25 * 60_000;

/// The pause before the next hit: `custom` if it is a custom event, else a pageview.
pub(crate) fn pause_before(custom: bool, stream: &mut impl Draw) -> i64 {
    if custom {
        REACT.draw(stream)
    } else if stream.chance(SKIM_CHANCE) {
        SKIM.draw(stream)
    } else {
        READ.draw(stream)
    }
}

/// What a visit will send: pageviews, each possibly followed by a custom event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    pub pageviews: u32,
    /// Bit `i` set: a custom event follows pageview `i`.
    pub custom_after: u64,
}

impl Plan {
    /// Draws a plan for a visit to a site of this kind.
    pub(crate) fn draw(kind: &SiteKind, random: &mut impl Draw) -> Self {
        let mut pageviews = 1;
        if !random.chance(kind.bounce) {
            pageviews = 2;
            while pageviews < MAX_PAGEVIEWS && random.chance(kind.continue_chance) {
                pageviews += 1;
            }
        }
        let mut custom_after = 0u64;
        for index in 0..pageviews {
            if random.chance(kind.custom_chance) {
                custom_after |= 1 << index;
            }
        }
        Self { pageviews, custom_after }
    }

    /// The number of hits.
    pub(crate) fn hits(&self) -> u32 {
        self.pageviews + self.custom_after.count_ones()
    }

    /// Keeps only the first `keep` hits (`keep > 0`), in the order they are sent.
    pub(crate) fn truncate(&mut self, keep: u64) {
        debug_assert!(keep > 0);
        let mut hits = 0u64;
        for index in 0..self.pageviews {
            hits += 1;
            if hits == keep {
                self.pageviews = index + 1;
                self.custom_after &= (1 << index) - 1;
                return;
            }
            if self.custom_after & (1 << index) != 0 {
                hits += 1;
                if hits == keep {
                    self.pageviews = index + 1;
                    self.custom_after &= (1 << (index + 1)) - 1;
                    return;
                }
            }
        }
    }

    /// How many hits of a visit starting at `start` fall before `end`, with its pauses drawn
    /// from `pauses` (as the visit will draw them).
    pub(crate) fn hits_before(&self, start: i64, end: i64, pauses: SmallStream) -> u64 {
        // A visit cannot outlast its pauses at their longest: skip the simulation.
        if start + i64::from(self.hits()) * MAX_PAUSE_MS < end {
            return u64::from(self.hits());
        }
        let mut count = 0;
        self.offsets(pauses, |offset| {
            let fits = start + offset < end;
            count += u64::from(fits);
            fits
        });
        count
    }

    /// Calls `each` with the offset from the visit's start of each hit, in order, while it
    /// returns true.
    fn offsets(&self, mut pauses: SmallStream, mut each: impl FnMut(i64) -> bool) {
        let mut offset = 0;
        for index in 0..self.pageviews {
            if index > 0 {
                offset += pause_before(false, &mut pauses);
            }
            if !each(offset) {
                return;
            }
            if self.custom_after & (1 << index) != 0 {
                offset += pause_before(true, &mut pauses);
                if !each(offset) {
                    return;
                }
            }
        }
    }
}

/// Expected hits of a visit by how long before the end of the time span it starts: visits
/// that start late are cut short. The generator scales its visit rate by these so that the
/// last hours before the end keep the seasonal shape.
#[derive(Debug, Clone)]
pub(crate) struct Yields {
    /// Entry `m`: a visit starting `m` to `m + 1` minutes before the end.
    by_minutes_left: Vec<f64>,
    /// A visit far from the end.
    full: f64,
}

/// Minutes before the end for which [`Yields`] are tabulated; earlier visits are whole.
const YIELD_MINUTES: usize = 6 * 60;
/// Visits simulated to estimate the yields.
const YIELD_SAMPLES: u32 = 8_192;

impl Yields {
    /// Estimates the yields of a kind of site by simulating visits.
    pub(crate) fn estimate(kind: &SiteKind, seed: u64) -> Self {
        let mut random = SmallStream::new(seed);
        // hits_at[m]: hits, over all samples, at an offset of m to m + 1 minutes.
        let mut hits_at = vec![0u64; YIELD_MINUTES];
        let mut total = 0u64;
        for _ in 0..YIELD_SAMPLES {
            let plan = Plan::draw(kind, &mut random);
            let pauses = SmallStream::new(random.next_u64());
            total += u64::from(plan.hits());
            plan.offsets(pauses, |offset| {
                if let Some(bin) = hits_at.get_mut((offset / 60_000) as usize) {
                    *bin += 1;
                }
                true
            });
        }
        // A visit starting m minutes and some seconds before the end keeps the hits at
        // offsets below that: between those below m minutes (and the first pageview, at 0)
        // and those below m + 1 minutes. Take the middle.
        let samples = f64::from(YIELD_SAMPLES);
        let mut below = 0u64;
        let mut by_minutes_left = Vec::with_capacity(YIELD_MINUTES);
        for (minutes, hits) in hits_at.iter().enumerate() {
            let lower = if minutes == 0 { u64::from(YIELD_SAMPLES) } else { below };
            below += hits;
            by_minutes_left.push((lower + below) as f64 / 2.0 / samples);
        }
        Self { by_minutes_left, full: total as f64 / samples }
    }

    /// Expected hits of a visit starting `ms_left` before the end.
    pub(crate) fn at(&self, ms_left: i64) -> f64 {
        usize::try_from(ms_left / 60_000)
            .ok()
            .and_then(|minutes| self.by_minutes_left.get(minutes))
            .copied()
            .unwrap_or(self.full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::Random;
    use crate::site::SITE_KINDS;

    #[test]
    fn truncation_keeps_hits_in_sending_order() {
        // Pageviews 0..4, custom events after pageviews 1 and 2.
        let plan = Plan { pageviews: 4, custom_after: 0b0110 };
        assert_eq!(plan.hits(), 6);
        let cut = |keep| {
            let mut plan = plan;
            plan.truncate(keep);
            plan
        };
        assert_eq!(cut(1), Plan { pageviews: 1, custom_after: 0 });
        assert_eq!(cut(2), Plan { pageviews: 2, custom_after: 0 });
        assert_eq!(cut(3), Plan { pageviews: 2, custom_after: 0b10 });
        assert_eq!(cut(5), Plan { pageviews: 3, custom_after: 0b110 });
        assert_eq!(cut(6), plan);
        assert_eq!(cut(9), plan);
    }

    #[test]
    fn hits_before_the_end_match_the_pauses_the_visit_draws() {
        let mut random = Random::new(5);
        for _ in 0..2_000 {
            let plan = Plan::draw(&SITE_KINDS[0], &mut random);
            let seed = random.next_u64();
            let end = 1_000_000 + random.below(3_600_000) as i64;
            let start = 1_000_000;
            // Walk the visit as the generator does.
            let mut pauses = SmallStream::new(seed);
            let mut ts = start;
            let mut sent = 0;
            for index in 0..plan.pageviews {
                if index > 0 {
                    ts += pause_before(false, &mut pauses);
                }
                if ts >= end {
                    break;
                }
                sent += 1;
                if plan.custom_after & (1 << index) != 0 {
                    ts += pause_before(true, &mut pauses);
                    if ts >= end {
                        break;
                    }
                    sent += 1;
                }
            }
            assert_eq!(plan.hits_before(start, end, SmallStream::new(seed)), sent);
        }
    }

    #[test]
    fn late_visits_yield_fewer_hits() {
        let yields = Yields::estimate(&SITE_KINDS[0], 1);
        assert!((1.0..1.5).contains(&yields.at(0)), "{}", yields.at(0));
        assert!(yields.at(0) < yields.at(10 * 60_000));
        assert!(yields.at(10 * 60_000) < yields.at(60 * 60_000));
        assert!((yields.at(i64::MAX) - yields.full).abs() < 1e-12);
        assert!(yields.at(5 * 3_600_000) > 0.97 * yields.full);
    }
}
