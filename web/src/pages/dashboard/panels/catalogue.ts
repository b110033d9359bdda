// The dashboard's breakdown reports, declared as data: for each panel and tab, the Stats API
// dimension it breaks down, the metrics it shows (the first draws the bars), the metrics of
// its details dialog, how a row filters the view and what a filter on it drills down to.
// Everything here is pure, so the catalogue is checked against the Stats API's words in
// catalogue.test.ts.
import { apiFilters, dateRange, filteredValue, type DashboardState, type Filter } from "../../../lib/dashboard-state";
import { breakdownQuery, type StatsQuery } from "../../../lib/stats";

export type PanelName = "pages" | "sources" | "locations" | "devices" | "goals";

/** How a row's label is drawn. */
export type LabelKind = "text" | "page" | "source" | "referrer" | "country" | "version";

export interface ReportDef {
  panel: PanelName;
  /** The tab's id in the URL (`?sources=referrers`). */
  tab: string;
  /** The tab's name, an i18n key (`panels.tab_pages`). */
  title: string;
  /** The label column's header, an i18n key. */
  column: string;
  dimension: string;
  /** Shown in the panel; the first draws the bars and orders the rows. */
  metrics: string[];
  /** Shown in the details dialog. */
  details: string[];
  /** The dimension a click on a row filters (its own, unless said). */
  filterDimension?: string;
  /** The dimension the details dialog's search looks in (its own, unless said). */
  searchDimension?: string;
  label: LabelKind;
  /** Filters every query of the report adds to the view's. */
  extraFilters?: unknown[];
  /** The prefix shown before each label (a drill-down's parent: `Chrome 120`). */
  prefix?: string;
  /** Set on a drill-down: the view's filter whose inside it shows. */
  drilledFrom?: { dimension: string; value: string };
}

const PAGE_DETAILS = ["visitors", "pageviews", "bounce_rate", "time_on_page", "scroll_depth"];
const VISIT_DETAILS = ["visitors", "visits", "bounce_rate", "visit_duration"];

/** The campaign parameters, each a tab of the sources panel's campaigns menu. */
export const UTM_TABS = ["utm_medium", "utm_source", "utm_campaign", "utm_term", "utm_content"] as const;

function visitReport(panel: PanelName, tab: string, dimension: string, column: string, label: LabelKind = "text"): ReportDef {
  return {
    panel,
    tab,
    title: `panels.tab_${tab}`,
    column,
    dimension,
    metrics: ["visitors", "percentage"],
    details: VISIT_DETAILS,
    label,
  };
}

/** Every report with a fixed dimension, by panel, in tab order. */
export const REPORTS: ReportDef[] = [
  {
    panel: "pages",
    tab: "pages",
    title: "panels.tab_pages",
    column: "panels.column_page",
    dimension: "event:page",
    metrics: ["visitors", "pageviews"],
    details: PAGE_DETAILS,
    label: "page",
  },
  {
    panel: "pages",
    tab: "entry",
    title: "panels.tab_entry",
    column: "panels.column_entry_page",
    dimension: "visit:entry_page",
    metrics: ["visitors", "visits"],
    details: VISIT_DETAILS,
    label: "page",
  },
  {
    panel: "pages",
    tab: "exit",
    title: "panels.tab_exit",
    column: "panels.column_exit_page",
    dimension: "visit:exit_page",
    metrics: ["visitors", "visits"],
    details: VISIT_DETAILS,
    label: "page",
  },
  visitReport("sources", "channels", "visit:channel", "panels.column_channel"),
  visitReport("sources", "sources", "visit:source", "panels.column_source", "source"),
  visitReport("sources", "referrers", "visit:referrer", "panels.column_referrer", "referrer"),
  // Campaigns list the visits that carried the parameter (as Plausible does), not "(not set)".
  ...UTM_TABS.map((tab) => ({
    ...visitReport("sources", tab, `visit:${tab}`, `panels.tab_${tab}`),
    extraFilters: [["is_not", `visit:${tab}`, [""]]],
  })),
  { ...visitReport("locations", "map", "visit:country", "panels.column_country", "country"), metrics: ["visitors"] },
  { ...visitReport("locations", "countries", "visit:country", "panels.column_country", "country"), searchDimension: "visit:country_name" },
  visitReport("locations", "regions", "visit:region_name", "panels.column_region"),
  visitReport("locations", "cities", "visit:city", "panels.column_city"),
  visitReport("devices", "browsers", "visit:browser", "panels.column_browser"),
  visitReport("devices", "os", "visit:os", "panels.column_os"),
  visitReport("devices", "devices", "visit:device", "panels.column_device"),
  {
    panel: "goals",
    tab: "goals",
    title: "panels.tab_goals",
    column: "panels.column_goal",
    dimension: "event:goal",
    // Revenue shows only when some goal has any (and is asked again without it if refused).
    metrics: ["visitors", "events", "conversion_rate", "total_revenue"],
    details: ["visitors", "events", "conversion_rate", "total_revenue", "average_revenue"],
    label: "text",
  },
  {
    panel: "goals",
    tab: "events",
    title: "panels.tab_events",
    column: "panels.column_event",
    dimension: "event:name",
    metrics: ["visitors", "events"],
    details: ["visitors", "events"],
    label: "text",
    extraFilters: [["is_not", "event:name", ["pageview"]]],
  },
];

/** The goals panel's tabs that are not a fixed breakdown. */
export const PROPS_TAB = "props";
export const FUNNELS_TAB = "funnels";

/** Each panel's tabs, in order, and the one shown by default. */
export const PANEL_TABS: Record<PanelName, { tabs: string[]; default: string }> = {
  pages: { tabs: ["pages", "entry", "exit"], default: "pages" },
  sources: { tabs: ["channels", "sources", "referrers", ...UTM_TABS], default: "sources" },
  locations: { tabs: ["map", "countries", "regions", "cities"], default: "map" },
  devices: { tabs: ["browsers", "os", "devices"], default: "browsers" },
  goals: { tabs: ["goals", "events", PROPS_TAB, FUNNELS_TAB], default: "goals" },
};

/** The tab a panel shows: the state's if it is one of the panel's (a property tab: `props:<key>`). */
export function tabOf(state: DashboardState, panel: PanelName): string {
  const chosen = state.tabs[panel];
  const { tabs, default: fallback } = PANEL_TABS[panel];
  if (!chosen) return fallback;
  if (panel === "goals" && (chosen === PROPS_TAB || chosen.startsWith(`${PROPS_TAB}:`))) return chosen;
  return tabs.includes(chosen) ? chosen : fallback;
}

/** The property key a `props:<key>` tab names, or null for none chosen yet. */
export function propertyKeyOf(tab: string): string | null {
  if (!tab.startsWith(`${PROPS_TAB}:`)) return null;
  const key = tab.slice(PROPS_TAB.length + 1).trim();
  return key === "" ? null : key;
}

/** The report of `event:props:<key>` (visitors and events with each value). */
export function propertyReport(key: string): ReportDef {
  return {
    panel: "goals",
    tab: `${PROPS_TAB}:${key}`,
    title: "panels.tab_props",
    column: "panels.column_property",
    dimension: `event:props:${key}`,
    metrics: ["visitors", "events"],
    details: ["visitors", "events"],
    label: "text",
  };
}

/** The fixed report of a panel's tab, if it has one. */
export function reportOf(panel: PanelName, tab: string): ReportDef | undefined {
  return REPORTS.find((report) => report.panel === panel && report.tab === tab);
}

/**
 * The report a tab shows in a state: filtering on one source shows its referrers, on one
 * browser its versions, on one operating system its versions (Plausible's drill-downs).
 */
export function resolveReport(report: ReportDef, state: DashboardState): ReportDef {
  const drill = (dimension: string, to: Partial<ReportDef> & { dimension: string }, label: LabelKind, withPrefix: boolean) => {
    const value = filteredValue(state, dimension);
    if (value === undefined) return null;
    return { ...report, ...to, label, prefix: withPrefix ? value : undefined, drilledFrom: { dimension, value } } as ReportDef;
  };
  if (report.panel === "sources" && report.tab === "sources") {
    return drill("visit:source", { dimension: "visit:referrer", column: "panels.column_referrer" }, "referrer", false) ?? report;
  }
  if (report.panel === "devices" && report.tab === "browsers") {
    return drill("visit:browser", { dimension: "visit:browser_version", column: "panels.column_browser_version" }, "version", true) ?? report;
  }
  if (report.panel === "devices" && report.tab === "os") {
    return drill("visit:os", { dimension: "visit:os_version", column: "panels.column_os_version" }, "version", true) ?? report;
  }
  return report;
}

/**
 * The range the panels show: the view's, except that realtime (the graph's last five
 * minutes) shows the last thirty, as Plausible's realtime panels do.
 */
export function panelRange(state: DashboardState, today: string): string | [string, string] {
  return state.period === "realtime" ? "30m" : dateRange(state, today);
}

/** The query of a report's rows: the view's range and filters, biggest first. */
export function reportQuery(
  report: ReportDef,
  state: DashboardState,
  today: string,
  options: { limit?: number; offset?: number; metrics?: string[]; search?: string; orderBy?: [string, "asc" | "desc"] } = {},
): StatsQuery {
  const metrics = options.metrics ?? report.metrics;
  const query = breakdownQuery(state, today, report.dimension, metrics, options.limit ?? 9);
  const filters = [...(query.filters ?? []), ...(report.extraFilters ?? [])];
  const search = options.search?.trim();
  if (search) filters.push(...apiFilters([{ op: "contains", dimension: report.searchDimension ?? report.dimension, values: [search] }]));
  const ordered: StatsQuery = { ...query, date_range: panelRange(state, today), filters };
  if (options.orderBy) ordered.order_by = [options.orderBy];
  if (options.offset) ordered.pagination = { limit: options.limit ?? 9, offset: options.offset };
  return ordered;
}

/** The labels the API gives missing values, and the value a filter matches them by. */
const PLACEHOLDERS = new Set(["Direct / None", "(not set)", "(none)"]);

/**
 * The filter a click on a row adds (`is` its value on the report's dimension), or null when
 * the row cannot be one (a missing country: the API takes only two-letter codes).
 */
export function rowFilter(report: ReportDef, value: string | number | null): Filter | null {
  const dimension = report.filterDimension ?? report.dimension;
  const text = value === null ? "" : String(value);
  const missing = value === null || PLACEHOLDERS.has(text);
  if (missing && dimension === "visit:country") return null;
  return { op: "is", dimension, values: [missing ? "" : text] };
}

/** Whether `filter` is the view's filter on exactly this row (an `is` on its one value). */
export function isRowFiltered(state: DashboardState, filter: Filter | null): boolean {
  if (!filter) return false;
  return filteredValue(state, filter.dimension) === filter.values[0];
}

/**
 * The state after a click on a row: its filter added (replacing one on the same dimension),
 * or removed when the row is the filter already.
 */
export function toggleRowFilter(state: DashboardState, filter: Filter): DashboardState {
  const value = filter.values[0];
  if (isRowFiltered(state, filter)) {
    return { ...state, filters: state.filters.filter((f) => !(f.dimension === filter.dimension && f.op === "is")) };
  }
  const others = state.filters.filter((f) => !(f.dimension === filter.dimension && f.op === "is"));
  return { ...state, filters: [...others, { op: "is", dimension: filter.dimension, values: [value] }] };
}

/** The state with `panel` showing `tab` (the default tab is left out of the URL). */
export function withTab(state: DashboardState, panel: PanelName, tab: string): DashboardState {
  const tabs = { ...state.tabs };
  if (tab === PANEL_TABS[panel].default) delete tabs[panel];
  else tabs[panel] = tab;
  return { ...state, tabs };
}
