// The range picker's logic: its presets (and their keyboard shortcuts, Plausible's), what a
// preset does to the state, the label of the range in the reader's language, stepping a day
// or a month back and forth, and the custom range's validation.
import {
  addDays,
  addMonths,
  daysBetween,
  type DashboardState,
  type Period,
} from "../../lib/dashboard-state";
import { t } from "../../lib/i18n";

export type PresetId =
  | "today"
  | "yesterday"
  | "realtime"
  | "7d"
  | "28d"
  | "30d"
  | "91d"
  | "this_month"
  | "last_month"
  | "12mo"
  | "year"
  | "all";

export interface Preset {
  id: PresetId;
  /** The key that picks it (lower case), as Plausible has them. */
  key: string;
}

/** The presets in the menu's order, in groups separated by a rule. */
export const PRESET_GROUPS: Preset[][] = [
  [
    { id: "today", key: "d" },
    { id: "yesterday", key: "e" },
    { id: "realtime", key: "r" },
  ],
  [
    { id: "7d", key: "w" },
    { id: "28d", key: "f" },
    { id: "30d", key: "t" },
    { id: "91d", key: "n" },
  ],
  [
    { id: "this_month", key: "m" },
    { id: "last_month", key: "p" },
  ],
  [
    { id: "year", key: "y" },
    { id: "12mo", key: "l" },
    { id: "all", key: "a" },
  ],
];

/** The key that opens the custom range, and the one that toggles the comparison. */
export const CUSTOM_KEY = "c";
export const COMPARE_KEY = "x";

export const PRESETS: Preset[] = PRESET_GROUPS.flat();

function firstOfMonth(day: string): string {
  return `${day.slice(0, 8)}01`;
}

/** The state a preset opens: the same filters and metric, the period's own interval. */
export function applyPreset(state: DashboardState, id: PresetId, today: string): DashboardState {
  const base: DashboardState = { ...state, date: undefined, from: undefined, to: undefined, interval: null };
  const withPeriod = (period: Period, date?: string): DashboardState => {
    const next = { ...base, period, date };
    if (period === "realtime" || period === "all") {
      next.comparison = null;
      next.compareFrom = undefined;
      next.compareTo = undefined;
      if (period === "realtime" && !["visitors", "pageviews"].includes(next.metric)) next.metric = "visitors";
    }
    return next;
  };
  switch (id) {
    case "today":
      return withPeriod("day");
    case "yesterday":
      return withPeriod("day", addDays(today, -1));
    case "realtime":
      return withPeriod("realtime");
    case "this_month":
      return withPeriod("month");
    case "last_month":
      return withPeriod("month", firstOfMonth(addMonths(firstOfMonth(today), -1)));
    default:
      return withPeriod(id);
  }
}

/** The preset a state shows, if it is one. */
export function presetOf(state: DashboardState, today: string): PresetId | null {
  switch (state.period) {
    case "day":
      if (!state.date || state.date === today) return "today";
      if (state.date === addDays(today, -1)) return "yesterday";
      return null;
    case "month": {
      const month = (state.date ?? today).slice(0, 7);
      if (month === today.slice(0, 7)) return "this_month";
      if (month === addMonths(firstOfMonth(today), -1).slice(0, 7)) return "last_month";
      return null;
    }
    case "custom":
      return null;
    default:
      return state.period;
  }
}

function utcDate(day: string): Date {
  return new Date(`${day}T00:00:00Z`);
}

/** The range a state shows, in words of the reader's language: "Last 7 days", "5 Dec 2026". */
export function rangeLabel(state: DashboardState, today: string, lang: string): string {
  const preset = presetOf(state, today);
  if (preset) return t(`dashboard.preset_${preset}`);
  if (state.period === "day") {
    return new Intl.DateTimeFormat(lang, {
      weekday: "short",
      day: "numeric",
      month: "short",
      year: state.date?.slice(0, 4) === today.slice(0, 4) ? undefined : "numeric",
      timeZone: "UTC",
    }).format(utcDate(state.date ?? today));
  }
  if (state.period === "month") {
    return new Intl.DateTimeFormat(lang, { month: "long", year: "numeric", timeZone: "UTC" }).format(
      utcDate(firstOfMonth(state.date ?? today)),
    );
  }
  return dayRangeLabel(state.from ?? today, state.to ?? today, lang);
}

/** Two days as one range in the reader's language: "1–5 Dec 2026", "28 Nov – 5 Dec 2026". */
export function dayRangeLabel(from: string, to: string, lang: string): string {
  const format = new Intl.DateTimeFormat(lang, { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
  if (from === to) return format.format(utcDate(from));
  return format.formatRange(utcDate(from), utcDate(to));
}

/** Whether a state's range can step back and forth (a day, a month), and the states it steps to. */
export function stepOf(state: DashboardState, today: string): { previous: DashboardState; next: DashboardState | null } | null {
  if (state.period === "day") {
    const day = state.date ?? today;
    const later = addDays(day, 1);
    return {
      previous: { ...state, date: addDays(day, -1) },
      next: later > today ? null : { ...state, date: later === today ? undefined : later },
    };
  }
  if (state.period === "month") {
    const month = firstOfMonth(state.date ?? today);
    const later = addMonths(month, 1);
    return {
      previous: { ...state, date: addMonths(month, -1) },
      next: later > today ? null : { ...state, date: later.slice(0, 7) === today.slice(0, 7) ? undefined : later },
    };
  }
  return null;
}

/** The first day a custom range may start on. */
export const EARLIEST_DAY = "2000-01-01";

/** Why a custom range cannot be used (a locale key), or null when it can. */
export function customRangeError(from: string, to: string, today: string): string | null {
  const day = /^\d{4}-\d{2}-\d{2}$/;
  if (!day.test(from) || !day.test(to) || Number.isNaN(Date.parse(from)) || Number.isNaN(Date.parse(to))) {
    return "dashboard.custom_invalid";
  }
  if (from > to) return "dashboard.custom_order";
  if (from < EARLIEST_DAY || to > today) return "dashboard.custom_bounds";
  if (daysBetween(from, to) > 5000) return "dashboard.custom_bounds";
  return null;
}

/** The state of a custom range. */
export function applyCustom(state: DashboardState, from: string, to: string): DashboardState {
  return { ...state, period: "custom", from, to, date: undefined, interval: null };
}

/** Whether a key press in the page is meant for the page (not typed into a field). */
export function isShortcut(event: KeyboardEvent): boolean {
  if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return false;
  const target = event.target as HTMLElement | null;
  if (!target || typeof target.closest !== "function") return true;
  if (target.isContentEditable) return false;
  return !target.closest("input, textarea, select, dialog");
}
