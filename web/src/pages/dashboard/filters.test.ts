import { describe, expect, it } from "vitest";
import { defaultState, type DashboardState } from "../../lib/dashboard-state";
import { chipText, DIMENSIONS, dimensionLabel, filterProblem, hasGoalFilter, suggestionQuery, suggestionsOf, withFilterAt } from "./filters";

const today = "2026-12-07";
const state = (patch: Partial<DashboardState> = {}): DashboardState => ({ ...defaultState(), ...patch });

describe("the dimension catalogue", () => {
  it("has every dimension once, each with a name", () => {
    const dimensions = DIMENSIONS.map((info) => info.dimension);
    expect(new Set(dimensions).size).toBe(dimensions.length);
    for (const info of DIMENSIONS) expect(dimensionLabel(info.dimension === "event:props:" ? "visit:source" : info.dimension)).not.toMatch(/^dashboard\./);
    expect(dimensions).toEqual(expect.arrayContaining(["event:page", "visit:utm_campaign", "visit:os_version", "event:goal", "event:name"]));
  });
  it("names a property by its key", () => {
    expect(dimensionLabel("event:props:plan")).toBe("plan");
    expect(dimensionLabel("visit:region")).toBe("Region");
  });
});

describe("filter chips", () => {
  it("say the filter in words", () => {
    expect(chipText({ op: "is", dimension: "visit:source", values: ["Google", "Bing"] }, "en")).toBe("Source is Google or Bing");
    expect(chipText({ op: "contains", dimension: "event:page", values: ["/blog"] }, "en")).toBe("Page contains /blog");
    expect(chipText({ op: "is_not", dimension: "visit:country", values: ["DE", "FR", "IT"] }, "en")).toBe("Country is not Germany, France, or Italy");
    expect(chipText({ op: "matches_not", dimension: "event:props:plan", values: ["^pro"] }, "en")).toBe("plan does not match ^pro");
  });
});

describe("suggestions", () => {
  it("ask the dimension's breakdown that contains the text, under the other filters", () => {
    const view = state({
      period: "7d",
      filters: [
        { op: "is", dimension: "visit:source", values: ["Google"] },
        { op: "is", dimension: "event:page", values: ["/"] },
      ],
    });
    expect(suggestionQuery(view, today, "event:page", " blo ")).toEqual({
      date_range: ["2026-12-01", "2026-12-07"],
      filters: [["is", "visit:source", ["Google"]], ["contains", "event:page", ["blo"], { case_sensitive: false }]],
      metrics: ["visitors"],
      dimensions: ["event:page"],
      order_by: [["visitors", "desc"]],
      pagination: { limit: 10 },
    });
  });
  it("ask countries whole and match their names here", () => {
    const query = suggestionQuery(state(), today, "visit:country", "germ");
    expect(query.filters).toEqual([]);
    expect(query.pagination).toEqual({ limit: 300 });
    const rows = [{ dimensions: ["US"] }, { dimensions: ["DE"] }, { dimensions: ["FR"] }];
    expect(suggestionsOf("visit:country", rows, "germ", [], "en")).toEqual(["DE"]);
    expect(suggestionsOf("visit:country", rows, "", ["US"], "en")).toEqual(["DE", "FR"]);
  });
  it("use the last 30 minutes in realtime", () => {
    expect(suggestionQuery(state({ period: "realtime" }), today, "visit:source", "").date_range).toBe("30m");
  });
});

describe("editing filters", () => {
  it("checks what is missing", () => {
    expect(filterProblem({ op: "is", dimension: "event:props:", values: ["x"] })).toBe("dashboard.filter_need_key");
    expect(filterProblem({ op: "is", dimension: "visit:source", values: [" "] })).toBe("dashboard.filter_need_value");
    expect(filterProblem({ op: "matches", dimension: "event:page", values: ["(["] })).toBe("dashboard.filter_bad_regex");
    expect(filterProblem({ op: "matches", dimension: "event:page", values: ["^/blog/.+"] })).toBeNull();
  });
  it("adds or replaces, trimming values", () => {
    const view = state({ filters: [{ op: "is", dimension: "visit:source", values: ["Google"] }] });
    const added = withFilterAt(view, null, { op: "contains", dimension: "event:page", values: [" /blog ", ""] });
    expect(added.filters[1]).toEqual({ op: "contains", dimension: "event:page", values: ["/blog"] });
    const replaced = withFilterAt(added, 0, { op: "is_not", dimension: "visit:source", values: ["Bing"] });
    expect(replaced.filters.map((filter) => filter.op)).toEqual(["is_not", "contains"]);
  });
  it("knows when a goal is chosen", () => {
    expect(hasGoalFilter(state({ filters: [{ op: "is", dimension: "event:goal", values: ["Signup"] }] }))).toBe(true);
    expect(hasGoalFilter(state({ filters: [{ op: "is_not", dimension: "event:goal", values: ["Signup"] }] }))).toBe(false);
  });
});
