import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultState, parseState, serializeState, type DashboardState } from "../../../lib/dashboard-state";
import {
  PANEL_TABS,
  REPORTS,
  isRowFiltered,
  panelRange,
  propertyKeyOf,
  propertyReport,
  reportOf,
  reportQuery,
  resolveReport,
  rowFilter,
  tabOf,
  toggleRowFilter,
  withTab,
  type ReportDef,
} from "./catalogue";

// The Stats API's own words: the dimensions and metrics docs/stats-api.md lists.
const doc = readFileSync(join(__dirname, "../../../../../docs/stats-api.md"), "utf8");
const section = (name: string) => doc.slice(doc.indexOf(`- \`${name}\``), doc.indexOf("\n- `", doc.indexOf(`- \`${name}\``) + 1));
const DIMENSIONS = new Set(
  [...section("dimensions").matchAll(/`([a-z_:]+(?:\|[a-z_|]+)?)(?:<key>)?`/g)].flatMap(([, name]) => {
    // `visit:utm_source|medium|campaign|content|term` is five dimensions.
    const [first, ...rest] = name.split("|");
    const prefix = first.slice(0, first.lastIndexOf("_") + 1);
    return [first, ...rest.map((part) => prefix + part)];
  }),
);
const METRICS = new Set([...section("metrics").matchAll(/`([a-z_]+)`/g)].map(([, name]) => name));
const VISIT_ONLY = ["bounce_rate", "visit_duration", "views_per_visit"];

function checkAgainstApi(report: ReportDef) {
  const dimension = report.dimension.startsWith("event:props:") ? "event:props:" : report.dimension;
  expect(DIMENSIONS.has(dimension), `${report.tab}: ${dimension}`).toBe(true);
  for (const metric of [...report.metrics, ...report.details]) {
    expect(METRICS.has(metric), `${report.tab}: ${metric}`).toBe(true);
    if (VISIT_ONLY.includes(metric) && report.dimension.startsWith("event:")) expect(report.dimension).toBe("event:page");
    if (["time_on_page", "scroll_depth"].includes(metric)) expect(report.dimension).toBe("event:page");
    if (["conversion_rate", "total_revenue", "average_revenue"].includes(metric)) expect(report.dimension).toBe("event:goal");
    if (["pageviews", "events"].includes(metric)) expect(["visit:entry_page", "visit:exit_page"]).not.toContain(report.dimension);
  }
  expect(metricsUnique(report.metrics)).toBe(true);
}
const metricsUnique = (metrics: string[]) => new Set(metrics).size === metrics.length;

const filtered = (dimension: string, value: string): DashboardState => ({
  ...defaultState(),
  filters: [{ op: "is", dimension, values: [value] }],
});

describe("the report catalogue", () => {
  it("reads the API's dimensions and metrics from the doc", () => {
    expect(DIMENSIONS.has("visit:utm_term")).toBe(true);
    expect(DIMENSIONS.has("event:goal")).toBe(true);
    expect(METRICS.has("conversion_rate")).toBe(true);
    expect(METRICS.has("scroll_depth")).toBe(true);
  });
  it("asks only what the Stats API answers", () => {
    for (const report of REPORTS) checkAgainstApi(report);
    checkAgainstApi(propertyReport("plan"));
    for (const state of [filtered("visit:source", "Google"), filtered("visit:browser", "Chrome"), filtered("visit:os", "iOS")]) {
      for (const report of REPORTS) checkAgainstApi(resolveReport(report, state));
    }
  });
  it("has a report for every fixed tab and a default tab in each panel", () => {
    for (const [panel, { tabs, default: fallback }] of Object.entries(PANEL_TABS)) {
      expect(tabs).toContain(fallback);
      for (const tab of tabs) {
        if (panel === "goals" && (tab === "props" || tab === "funnels")) continue;
        expect(reportOf(panel as keyof typeof PANEL_TABS, tab), `${panel}/${tab}`).toBeDefined();
      }
    }
    expect(new Set(REPORTS.map((r) => `${r.panel}/${r.tab}`)).size).toBe(REPORTS.length);
  });
  it("keeps the tab in the URL, the default left out", () => {
    const state = withTab(defaultState(), "sources", "utm_campaign");
    expect(serializeState(state)).toBe("sources=utm_campaign");
    expect(tabOf(parseState(new URLSearchParams("sources=utm_campaign")), "sources")).toBe("utm_campaign");
    expect(serializeState(withTab(state, "sources", "sources"))).toBe("");
    expect(tabOf(parseState(new URLSearchParams("devices=nonsense")), "devices")).toBe("browsers");
    expect(tabOf(parseState(new URLSearchParams("goals=props%3Aplan")), "goals")).toBe("props:plan");
    expect(propertyKeyOf("props:plan")).toBe("plan");
    expect(propertyKeyOf("props:")).toBeNull();
    expect(propertyKeyOf("props")).toBeNull();
  });
});

describe("queries", () => {
  const today = "2026-12-07";
  it("breaks down the report's dimension over the view's range and filters", () => {
    const query = reportQuery(reportOf("pages", "pages")!, filtered("visit:country", "DE"), today);
    expect(query).toMatchObject({
      dimensions: ["event:page"],
      metrics: ["visitors", "pageviews"],
      date_range: ["2026-11-08", "2026-12-07"],
      filters: [["is", "visit:country", ["DE"]]],
      order_by: [["visitors", "desc"]],
      pagination: { limit: 9 },
    });
  });
  it("shows the last thirty minutes in realtime", () => {
    const realtime = { ...defaultState(), period: "realtime" as const };
    expect(reportQuery(reportOf("pages", "pages")!, realtime, today).date_range).toBe("30m");
    expect(panelRange(defaultState(), today)).toEqual(["2026-11-08", "2026-12-07"]);
  });
  it("leaves pageviews out of custom events", () => {
    const query = reportQuery(reportOf("goals", "events")!, defaultState(), today);
    expect(query.filters).toEqual([["is_not", "event:name", ["pageview"]]]);
  });
  it("lists only the visits that carried a campaign parameter", () => {
    const query = reportQuery(reportOf("sources", "utm_campaign")!, filtered("visit:country", "DE"), today);
    expect(query.filters).toEqual([
      ["is", "visit:country", ["DE"]],
      ["is_not", "visit:utm_campaign", [""]],
    ]);
  });
  it("searches, sorts and pages for the details", () => {
    const countries = reportOf("locations", "countries")!;
    const query = reportQuery(countries, defaultState(), today, {
      limit: 100,
      offset: 200,
      search: " germ ",
      orderBy: ["bounce_rate", "asc"],
      metrics: countries.details,
    });
    expect(query.filters).toEqual([["contains", "visit:country_name", ["germ"], { case_sensitive: false }]]);
    expect(query.order_by).toEqual([["bounce_rate", "asc"]]);
    expect(query.pagination).toEqual({ limit: 100, offset: 200 });
    expect(query.metrics).toEqual(["visitors", "visits", "bounce_rate", "visit_duration"]);
  });
});

describe("rows and filters", () => {
  it("filters by the row's value on the report's dimension", () => {
    expect(rowFilter(reportOf("sources", "sources")!, "Google")).toEqual({ op: "is", dimension: "visit:source", values: ["Google"] });
    expect(rowFilter(reportOf("locations", "countries")!, "DE")).toEqual({ op: "is", dimension: "visit:country", values: ["DE"] });
    expect(rowFilter(propertyReport("plan"), "pro")).toEqual({ op: "is", dimension: "event:props:plan", values: ["pro"] });
  });
  it("matches a missing value by the empty string, never a missing country", () => {
    expect(rowFilter(reportOf("sources", "sources")!, "Direct / None")?.values).toEqual([""]);
    expect(rowFilter(reportOf("devices", "os")!, "(not set)")?.values).toEqual([""]);
    expect(rowFilter(reportOf("locations", "countries")!, "(not set)")).toBeNull();
    expect(rowFilter(reportOf("locations", "countries")!, null)).toBeNull();
  });
  it("toggles a row's filter, replacing another on the same dimension", () => {
    const report = reportOf("sources", "sources")!;
    const google = rowFilter(report, "Google")!;
    const bing = rowFilter(report, "Bing")!;
    const once = toggleRowFilter(filtered("visit:country", "DE"), google);
    expect(once.filters).toEqual([
      { op: "is", dimension: "visit:country", values: ["DE"] },
      { op: "is", dimension: "visit:source", values: ["Google"] },
    ]);
    expect(isRowFiltered(once, google)).toBe(true);
    expect(isRowFiltered(once, bing)).toBe(false);
    expect(toggleRowFilter(once, bing).filters[1]).toEqual({ op: "is", dimension: "visit:source", values: ["Bing"] });
    expect(toggleRowFilter(once, google).filters).toEqual([{ op: "is", dimension: "visit:country", values: ["DE"] }]);
  });
  it("drills down: a browser into its versions, an OS into its versions, a source into its referrers", () => {
    const browsers = resolveReport(reportOf("devices", "browsers")!, filtered("visit:browser", "Firefox"));
    expect(browsers.dimension).toBe("visit:browser_version");
    expect(browsers.prefix).toBe("Firefox");
    expect(rowFilter(browsers, "120.0")).toEqual({ op: "is", dimension: "visit:browser_version", values: ["120.0"] });
    const os = resolveReport(reportOf("devices", "os")!, filtered("visit:os", "Android"));
    expect(os.dimension).toBe("visit:os_version");
    const sources = resolveReport(reportOf("sources", "sources")!, filtered("visit:source", "Google"));
    expect(sources.dimension).toBe("visit:referrer");
    expect(sources.label).toBe("referrer");
    expect(sources.drilledFrom).toEqual({ dimension: "visit:source", value: "Google" });
    // Other filters, or other tabs, drill nowhere.
    expect(resolveReport(reportOf("devices", "browsers")!, filtered("visit:os", "iOS")).dimension).toBe("visit:browser");
    expect(resolveReport(reportOf("devices", "devices")!, filtered("visit:browser", "Chrome")).dimension).toBe("visit:device");
    // An `is` on two browsers is no drill-down.
    const two: DashboardState = { ...defaultState(), filters: [{ op: "is", dimension: "visit:browser", values: ["Chrome", "Safari"] }] };
    expect(resolveReport(reportOf("devices", "browsers")!, two).dimension).toBe("visit:browser");
  });
});
