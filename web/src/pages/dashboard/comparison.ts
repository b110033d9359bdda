// The comparison's logic: the days it covers (the graph asks for them on their own, to align
// bucket by bucket), and how a change reads: its size, its unit (percent, or points for a
// rate) and whether it is good news.
import {
  addDays,
  addMonths,
  daysBetween,
  rangeOf,
  type Comparison,
  type DashboardState,
} from "../../lib/dashboard-state";

/** The comparison modes the menu offers, "none" first. */
export const COMPARISON_MODES: (Comparison | null)[] = [null, "previous_period", "year_over_year", "custom"];

/** Whether a state's range can be compared at all. */
export function canCompare(state: DashboardState): boolean {
  return state.period !== "realtime" && state.period !== "all";
}

/**
 * The days the comparison covers, as the server computes them: the same number of days just
 * before (previous period), the same days a year before, or the custom range.
 */
export function comparisonRange(state: DashboardState, today: string): { from: string; to: string } | null {
  if (!state.comparison || !canCompare(state)) return null;
  const range = rangeOf(state, today);
  if (typeof range === "string") return null;
  switch (state.comparison) {
    case "previous_period": {
      const days = daysBetween(range.from, range.to);
      return { from: addDays(range.from, -days), to: addDays(range.from, -1) };
    }
    case "year_over_year":
      return { from: addMonths(range.from, -12), to: addMonths(range.to, -12) };
    case "custom":
      return state.compareFrom && state.compareTo ? { from: state.compareFrom, to: state.compareTo } : null;
  }
}

/** Metrics for which a fall is good news. */
const LOWER_IS_BETTER = new Set(["bounce_rate"]);
/** Metrics whose change is in points (a difference of rates), not a percentage. */
const IN_POINTS = new Set(["bounce_rate"]);

export interface Change {
  /** The change: percent, or points for rates. */
  value: number;
  unit: "percent" | "points";
  direction: "up" | "down" | "flat";
  /** Whether it is good news, bad news, or neither. */
  sense: "good" | "bad" | "neutral";
}

/** The change from `before` to `now` as the API computes it (when it did not say). */
export function computeChange(metric: string, now: number | null, before: number | null): number | null {
  if (now === null || before === null) return null;
  if (IN_POINTS.has(metric)) return Math.round(now - before);
  if (before === 0) return now === 0 ? 0 : 100;
  return Math.round((1000 * (now - before)) / before) / 10;
}

/** How a change of `metric` reads; null when there is nothing to compare. */
export function describeChange(metric: string, change: number | null | undefined): Change | null {
  if (change === null || change === undefined || !Number.isFinite(change)) return null;
  const direction = change > 0 ? "up" : change < 0 ? "down" : "flat";
  const better = LOWER_IS_BETTER.has(metric) ? direction === "down" : direction === "up";
  return {
    value: change,
    unit: IN_POINTS.has(metric) ? "points" : "percent",
    direction,
    sense: direction === "flat" ? "neutral" : better ? "good" : "bad",
  };
}

/** A change as text, without its sign (the arrow says it): "12%", "3 pts" (unit from the locale). */
export function changeMagnitude(change: Change, lang: string): string {
  const magnitude = Math.abs(change.value);
  const number = new Intl.NumberFormat(lang, { maximumFractionDigits: magnitude < 10 ? 1 : 0 }).format(magnitude);
  return change.unit === "points" ? number : new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: magnitude < 10 ? 1 : 0 }).format(magnitude / 100);
}

/** The state with a comparison chosen (custom needs its range). */
export function withComparison(
  state: DashboardState,
  mode: Comparison | null,
  range?: { from: string; to: string },
): DashboardState {
  if (mode === "custom" && range) return { ...state, comparison: "custom", compareFrom: range.from, compareTo: range.to };
  return { ...state, comparison: mode === "custom" ? null : mode, compareFrom: undefined, compareTo: undefined };
}
