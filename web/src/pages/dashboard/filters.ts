// The filters' logic: the dimensions one can filter by (the add-filter dialog's catalogue),
// how a filter reads as a chip ("Source is Google or Bing"), and the suggestions query.
import { apiFilters, type DashboardState, type Filter, type Operator } from "../../lib/dashboard-state";
import { t } from "../../lib/i18n";
import { baseQuery, type StatsQuery } from "../../lib/stats";

export interface DimensionInfo {
  /** The locale key's suffix (`dashboard.dim_<key>`) and the dialog's value. */
  key: string;
  /** The Stats API dimension; a custom property's is `event:props:` and its key. */
  dimension: string;
  group: "pages" | "sources" | "locations" | "devices" | "behaviour";
}

export const DIMENSIONS: DimensionInfo[] = [
  { key: "page", dimension: "event:page", group: "pages" },
  { key: "entry_page", dimension: "visit:entry_page", group: "pages" },
  { key: "exit_page", dimension: "visit:exit_page", group: "pages" },
  { key: "hostname", dimension: "event:hostname", group: "pages" },
  { key: "source", dimension: "visit:source", group: "sources" },
  { key: "referrer", dimension: "visit:referrer", group: "sources" },
  { key: "channel", dimension: "visit:channel", group: "sources" },
  { key: "utm_source", dimension: "visit:utm_source", group: "sources" },
  { key: "utm_medium", dimension: "visit:utm_medium", group: "sources" },
  { key: "utm_campaign", dimension: "visit:utm_campaign", group: "sources" },
  { key: "utm_content", dimension: "visit:utm_content", group: "sources" },
  { key: "utm_term", dimension: "visit:utm_term", group: "sources" },
  { key: "country", dimension: "visit:country", group: "locations" },
  { key: "region", dimension: "visit:region_name", group: "locations" },
  { key: "city", dimension: "visit:city", group: "locations" },
  { key: "browser", dimension: "visit:browser", group: "devices" },
  { key: "browser_version", dimension: "visit:browser_version", group: "devices" },
  { key: "os", dimension: "visit:os", group: "devices" },
  { key: "os_version", dimension: "visit:os_version", group: "devices" },
  { key: "device", dimension: "visit:device", group: "devices" },
  { key: "goal", dimension: "event:goal", group: "behaviour" },
  { key: "event_name", dimension: "event:name", group: "behaviour" },
  { key: "property", dimension: "event:props:", group: "behaviour" },
];

export const GROUPS = ["pages", "sources", "locations", "devices", "behaviour"] as const;

const PROPERTY = "event:props:";

/** The catalogue's entry of a dimension (a custom property's for any `event:props:<key>`). */
export function dimensionInfo(dimension: string): DimensionInfo | null {
  if (dimension.startsWith(PROPERTY)) return DIMENSIONS.find((info) => info.key === "property") ?? null;
  return (
    DIMENSIONS.find((info) => info.dimension === dimension) ??
    // Filters on the region code or country name (from a panel's row) read as their kind.
    (dimension === "visit:region" ? (DIMENSIONS.find((info) => info.key === "region") ?? null) : null) ??
    (dimension === "visit:country_name" ? (DIMENSIONS.find((info) => info.key === "country") ?? null) : null)
  );
}

/** A dimension's name in the reader's language; a property's is its key. */
export function dimensionLabel(dimension: string): string {
  if (dimension.startsWith(PROPERTY)) return dimension.slice(PROPERTY.length);
  const info = dimensionInfo(dimension);
  return info ? t(`dashboard.dim_${info.key}`) : dimension;
}

/** A value as the reader knows it: countries by their name, in the reader's language. */
export function valueLabel(dimension: string, value: string, lang: string): string {
  if (dimension === "visit:country" && /^[A-Z]{2}$/.test(value)) {
    try {
      return new Intl.DisplayNames([lang], { type: "region" }).of(value) ?? value;
    } catch {
      return value;
    }
  }
  return value;
}

/** An operator in words: "is", "is not", "contains"... */
export function operatorLabel(op: Operator): string {
  return t(`dashboard.op_${op}`);
}

/** A filter as its chip says it: "Source is Google or Bing". */
export function chipText(filter: Filter, lang: string): string {
  const values = filter.values.map((value) => valueLabel(filter.dimension, value, lang));
  return t("dashboard.filter_chip", {
    dimension: dimensionLabel(filter.dimension),
    op: operatorLabel(filter.op),
    values: joinOr(values, lang),
  });
}

/** "A, B or C" in the reader's language. */
export function joinOr(values: string[], lang: string): string {
  try {
    return new Intl.ListFormat(lang, { type: "disjunction" }).format(values);
  } catch {
    return values.join(" | ");
  }
}

/** Dimensions whose values are codes or a short list: suggested whole and matched here. */
const MATCHED_HERE = new Set(["visit:country", "event:goal", "visit:device", "visit:channel"]);

/**
 * The query that suggests values for `dimension` as the reader types `text`: its breakdown
 * over the view's range, under the view's other filters, that contain the text (a few
 * dimensions are small enough to ask whole and match by their names here).
 */
export function suggestionQuery(state: DashboardState, today: string, dimension: string, text: string): StatsQuery {
  const others = state.filters.filter((filter) => filter.dimension !== dimension);
  const base = baseQuery({ ...state, filters: others }, today);
  const filters = [...apiFilters(others)];
  const whole = MATCHED_HERE.has(dimension);
  if (text.trim() && !whole) filters.push(["contains", dimension, [text.trim()], { case_sensitive: false }]);
  const dateRange = base.date_range === "realtime" ? "30m" : base.date_range;
  return {
    date_range: dateRange,
    filters,
    metrics: ["visitors"],
    dimensions: [dimension],
    order_by: [["visitors", "desc"]],
    pagination: { limit: whole ? 300 : 10 },
  };
}

/** The suggestions of an answer: values not chosen yet that match the text, at most 10. */
export function suggestionsOf(
  dimension: string,
  rows: { dimensions: unknown[] }[],
  text: string,
  chosen: string[],
  lang: string,
): string[] {
  const needle = text.trim().toLowerCase();
  const found: string[] = [];
  for (const row of rows) {
    const value = row.dimensions[0];
    if (typeof value !== "string" || chosen.includes(value)) continue;
    const shown = valueLabel(dimension, value, lang).toLowerCase();
    if (needle && !shown.includes(needle) && !value.toLowerCase().includes(needle)) continue;
    found.push(value);
    if (found.length === 10) break;
  }
  return found;
}

/** Whether a filter is complete enough to apply. */
export function filterProblem(filter: Filter): string | null {
  if (filter.dimension === PROPERTY || !/^(visit|event):[a-z_]+(:.+)?$/.test(filter.dimension)) return "dashboard.filter_need_key";
  const values = filter.values.map((value) => value.trim()).filter(Boolean);
  if (values.length === 0) return "dashboard.filter_need_value";
  if (filter.op === "matches" || filter.op === "matches_not") {
    for (const value of values) {
      try {
        new RegExp(value);
      } catch {
        return "dashboard.filter_bad_regex";
      }
    }
  }
  return null;
}

/** The state with filter `index` replaced (or a new filter added when index is null). */
export function withFilterAt(state: DashboardState, index: number | null, filter: Filter): DashboardState {
  const cleaned = { ...filter, values: filter.values.map((value) => value.trim()).filter(Boolean) };
  if (index === null) return { ...state, filters: [...state.filters, cleaned] };
  return { ...state, filters: state.filters.map((existing, at) => (at === index ? cleaned : existing)) };
}

/** Whether a goal filter is set (conversion rates need one). */
export function hasGoalFilter(state: DashboardState): boolean {
  return state.filters.some((filter) => filter.dimension === "event:goal" && (filter.op === "is" || filter.op === "contains" || filter.op === "matches"));
}
