// The site dashboard's state, and its round trip through the URL's query string: the range,
// the comparison, the filters, the graph's metric and interval, each panel's tab. Nothing
// of it lives anywhere else, so a copied URL opens the same view.

export const PERIODS = ["realtime", "day", "7d", "28d", "30d", "91d", "month", "12mo", "year", "all", "custom"] as const;
export type Period = (typeof PERIODS)[number];

export const INTERVALS = ["minute", "hour", "day", "week", "month"] as const;
export type Interval = (typeof INTERVALS)[number];

export const OPERATORS = ["is", "is_not", "contains", "contains_not", "matches", "matches_not"] as const;
export type Operator = (typeof OPERATORS)[number];

export const COMPARISONS = ["previous_period", "year_over_year", "custom"] as const;
export type Comparison = (typeof COMPARISONS)[number];

/** Metrics the main graph can draw. */
export const GRAPH_METRICS = ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration"] as const;

/** One filter: the visits or events whose `dimension` relates to any of `values` by `op`. */
export interface Filter {
  op: Operator;
  /** A Stats API dimension: `visit:source`, `event:page`, `event:props:plan`, `event:goal`. */
  dimension: string;
  values: string[];
}

export interface DashboardState {
  period: Period;
  /** The day (`day`) or a day of the month (`month`) shown; today when absent. */
  date?: string;
  /** A custom range's first and last day. */
  from?: string;
  to?: string;
  comparison: Comparison | null;
  compareFrom?: string;
  compareTo?: string;
  /** All must hold (and); a filter's values are alternatives (or); `is_not`... negate (not). */
  filters: Filter[];
  /** The main graph's metric. */
  metric: string;
  /** The main graph's buckets; null is the period's default. */
  interval: Interval | null;
  /** Each panel's chosen tab, by panel name. */
  tabs: Record<string, string>;
  /** The funnel shown in the funnels panel. */
  funnel?: string;
}

export const DEFAULT_PERIOD: Period = "30d";

/** The panels whose tab is kept in the URL, under their own name. */
export const PANELS = ["pages", "sources", "locations", "devices", "goals"] as const;

const DAY = /^\d{4}-\d{2}-\d{2}$/;

export function defaultState(): DashboardState {
  return { period: DEFAULT_PERIOD, comparison: null, filters: [], metric: "visitors", interval: null, tabs: {} };
}

/** A filter as one query-string value: `op,dimension,value,value` with `\,` and `\\` escaped. */
export function encodeFilter(filter: Filter): string {
  return [filter.op, filter.dimension, ...filter.values].map((part) => part.replace(/\\/g, "\\\\").replace(/,/g, "\\,")).join(",");
}

/** The filter of one query-string value, or null if it is not one. */
export function decodeFilter(text: string): Filter | null {
  const parts: string[] = [];
  let part = "";
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index];
    if (char === "\\" && index + 1 < text.length) {
      part += text[index + 1];
      index += 1;
    } else if (char === ",") {
      parts.push(part);
      part = "";
    } else {
      part += char;
    }
  }
  parts.push(part);
  const [op, dimension, ...values] = parts;
  if (!(OPERATORS as readonly string[]).includes(op)) return null;
  if (!/^(visit|event):[a-z_]+(:.+)?$/.test(dimension ?? "") || values.length === 0) return null;
  return { op: op as Operator, dimension, values };
}

/** The state a query string describes; anything unknown or malformed is left at its default. */
export function parseState(params: URLSearchParams): DashboardState {
  const state = defaultState();
  const period = params.get("period");
  if (period && (PERIODS as readonly string[]).includes(period)) state.period = period as Period;
  const day = (name: string) => {
    const value = params.get(name);
    return value && DAY.test(value) ? value : undefined;
  };
  state.date = day("date");
  if (state.period === "custom") {
    state.from = day("from");
    state.to = day("to");
    if (!state.from || !state.to) state.period = DEFAULT_PERIOD;
    else if (state.to < state.from) [state.from, state.to] = [state.to, state.from];
  }
  const comparison = params.get("compare");
  if (comparison && (COMPARISONS as readonly string[]).includes(comparison)) {
    state.comparison = comparison as Comparison;
    if (comparison === "custom") {
      state.compareFrom = day("cfrom");
      state.compareTo = day("cto");
      if (!state.compareFrom || !state.compareTo) state.comparison = null;
    }
  }
  if (state.period === "realtime" || state.period === "all") state.comparison = null;
  state.filters = params.getAll("f").map(decodeFilter).filter((filter): filter is Filter => filter !== null);
  const metric = params.get("metric");
  if (metric && (GRAPH_METRICS as readonly string[]).includes(metric)) state.metric = metric;
  const interval = params.get("interval");
  if (interval && (INTERVALS as readonly string[]).includes(interval) && intervalsFor(state).includes(interval as Interval)) {
    state.interval = interval as Interval;
  }
  for (const panel of PANELS) {
    const tab = params.get(panel);
    if (tab) state.tabs[panel] = tab.slice(0, 100);
  }
  const funnel = params.get("funnel");
  if (funnel) state.funnel = funnel.slice(0, 200);
  return state;
}

/** The query string of a state (without `?`); defaults are left out, so URLs stay short. */
export function serializeState(state: DashboardState): string {
  const params = new URLSearchParams();
  if (state.period !== DEFAULT_PERIOD) params.set("period", state.period);
  if (state.date && (state.period === "day" || state.period === "month")) params.set("date", state.date);
  if (state.period === "custom" && state.from && state.to) {
    params.set("from", state.from);
    params.set("to", state.to);
  }
  if (state.comparison) {
    params.set("compare", state.comparison);
    if (state.comparison === "custom" && state.compareFrom && state.compareTo) {
      params.set("cfrom", state.compareFrom);
      params.set("cto", state.compareTo);
    }
  }
  for (const filter of state.filters) params.append("f", encodeFilter(filter));
  if (state.metric !== "visitors") params.set("metric", state.metric);
  if (state.interval) params.set("interval", state.interval);
  for (const panel of PANELS) if (state.tabs[panel]) params.set(panel, state.tabs[panel]);
  if (state.funnel) params.set("funnel", state.funnel);
  return params.toString();
}

// --- Days, in the site's time zone ---------------------------------------------------------

/** Today's date (`YYYY-MM-DD`) in `timeZone` at `now`. */
export function todayIn(timeZone: string, now: Date = new Date()): string {
  // en-CA writes dates as YYYY-MM-DD.
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(now);
}

/** `day` moved by `days` (negative: back). */
export function addDays(day: string, days: number): string {
  const [year, month, date] = day.split("-").map(Number);
  return new Date(Date.UTC(year, month - 1, date + days)).toISOString().slice(0, 10);
}

/** `day` moved by whole months, kept within the month (31 Mar - 1 month = 28 Feb). */
export function addMonths(day: string, months: number): string {
  const [year, month, date] = day.split("-").map(Number);
  const first = new Date(Date.UTC(year, month - 1 + months, 1));
  const last = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate();
  return new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), Math.min(date, last))).toISOString().slice(0, 10);
}

function firstOfMonth(day: string): string {
  return `${day.slice(0, 8)}01`;
}

function lastOfMonth(day: string): string {
  return addDays(firstOfMonth(addMonths(firstOfMonth(day), 1)), -1);
}

/** Whole days from `from` to `to`, both counted. */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000) + 1;
}

/** The range a state shows: its first and last day, or `realtime` / `all`. */
export type Range = { from: string; to: string } | "realtime" | "all";

/**
 * The days a state covers, given today's date in the site's zone. Relative periods end
 * today (so today's visitors are in "last 30 days"); a month or a year runs to today while
 * it is the current one.
 */
export function rangeOf(state: DashboardState, today: string): Range {
  const upToToday = (from: string, to: string) => ({ from, to: to > today ? today : to });
  switch (state.period) {
    case "realtime":
      return "realtime";
    case "all":
      return "all";
    case "day": {
      const day = state.date ?? today;
      return { from: day, to: day };
    }
    case "7d":
    case "28d":
    case "30d":
    case "91d":
      return { from: addDays(today, 1 - Number.parseInt(state.period, 10)), to: today };
    case "month": {
      const day = state.date ?? today;
      return upToToday(firstOfMonth(day), lastOfMonth(day));
    }
    case "12mo":
      return { from: firstOfMonth(addMonths(today, -11)), to: today };
    case "year":
      return { from: `${today.slice(0, 4)}-01-01`, to: today };
    case "custom":
      return { from: state.from ?? today, to: state.to ?? today };
  }
}

/** The Stats API's `date_range` of a state. */
export function dateRange(state: DashboardState, today: string): string | [string, string] {
  const range = rangeOf(state, today);
  return typeof range === "string" ? range : [range.from, range.to];
}

/** The intervals the main graph offers for a state's range, shortest first. */
export function intervalsFor(state: DashboardState, today?: string): Interval[] {
  if (state.period === "realtime") return ["minute"];
  if (state.period === "all") return ["week", "month"];
  const range = rangeOf(state, today ?? state.to ?? state.date ?? "2000-01-01");
  const days = typeof range === "string" ? 31 : daysBetween(range.from, range.to);
  if (state.period === "day" || days <= 1) return ["minute", "hour"];
  if (days <= 7) return ["hour", "day"];
  if (days <= 40) return ["day", "week"];
  if (days <= 400) return ["day", "week", "month"];
  return ["week", "month"];
}

/** The interval the graph uses: the chosen one, else the period's natural one. */
export function intervalOf(state: DashboardState, today: string): Interval {
  const offered = intervalsFor(state, today);
  if (state.interval && offered.includes(state.interval)) return state.interval;
  if (state.period === "realtime") return "minute";
  if (state.period === "day") return "hour";
  if (state.period === "12mo" || state.period === "year" || state.period === "all") return "month";
  return offered.includes("day") ? "day" : offered[offered.length - 1];
}

/** The Stats API's `comparisons` of a state, or null. */
export function comparisonOf(state: DashboardState): { mode: Comparison; date_range?: [string, string] } | null {
  if (!state.comparison || state.period === "realtime" || state.period === "all") return null;
  if (state.comparison === "custom") {
    if (!state.compareFrom || !state.compareTo) return null;
    return { mode: "custom", date_range: [state.compareFrom, state.compareTo] };
  }
  return { mode: state.comparison };
}

// --- Filters -----------------------------------------------------------------------------

/** The Stats API's `filters` of a state: `[op, dimension, values]`, case-insensitive text matches. */
export function apiFilters(filters: Filter[]): unknown[] {
  return filters.map((filter) =>
    filter.op === "contains" || filter.op === "contains_not"
      ? [filter.op, filter.dimension, filter.values, { case_sensitive: false }]
      : [filter.op, filter.dimension, filter.values],
  );
}

/**
 * The state with a filter on `dimension` = `value` (a click on a row): it replaces an
 * `is` filter on the same dimension, and the panels' tabs stay.
 */
export function withFilter(state: DashboardState, dimension: string, value: string): DashboardState {
  const others = state.filters.filter((filter) => !(filter.dimension === dimension && filter.op === "is"));
  return { ...state, filters: [...others, { op: "is", dimension, values: [value] }] };
}

/** The state without its `index`th filter (or all of them without an index). */
export function withoutFilter(state: DashboardState, index?: number): DashboardState {
  return { ...state, filters: index === undefined ? [] : state.filters.filter((_, at) => at !== index) };
}

/** The value an `is` filter on `dimension` has, if exactly one. */
export function filteredValue(state: DashboardState, dimension: string): string | undefined {
  const filter = state.filters.find((f) => f.dimension === dimension && f.op === "is" && f.values.length === 1);
  return filter?.values[0];
}
