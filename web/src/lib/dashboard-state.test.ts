import { describe, expect, it } from "vitest";
import {
  addDays,
  addMonths,
  comparisonOf,
  dateRange,
  decodeFilter,
  defaultState,
  encodeFilter,
  intervalOf,
  intervalsFor,
  parseState,
  serializeState,
  todayIn,
  withFilter,
  withoutFilter,
} from "./dashboard-state";

const parse = (query: string) => parseState(new URLSearchParams(query));

describe("the URL round trip", () => {
  it("leaves defaults out", () => {
    expect(serializeState(defaultState())).toBe("");
    expect(parse("")).toEqual(defaultState());
  });
  it("keeps every part of a view", () => {
    const state = {
      ...defaultState(),
      period: "custom" as const,
      from: "2026-11-01",
      to: "2026-11-30",
      comparison: "custom" as const,
      compareFrom: "2025-11-01",
      compareTo: "2025-11-30",
      filters: [
        { op: "is" as const, dimension: "visit:source", values: ["Google", "Bing"] },
        { op: "contains_not" as const, dimension: "event:page", values: ["/blog,old\\x"] },
      ],
      metric: "pageviews",
      interval: "week" as const,
      tabs: { sources: "utm_source", pages: "entry" },
      funnel: "Checkout",
    };
    expect(parse(serializeState(state))).toEqual(state);
  });
  it("ignores what it does not know", () => {
    const state = parse("period=forever&metric=secret&interval=century&f=drop,visit:source,x&f=is,nonsense,x&f=is,visit:source");
    expect(state).toEqual(defaultState());
  });
  it("drops a custom range without its days, and comparisons of realtime", () => {
    expect(parse("period=custom&from=2026-01-01").period).toBe("30d");
    expect(parse("period=realtime&compare=previous_period").comparison).toBeNull();
    expect(parse("period=custom&from=2026-02-01&to=2026-01-01")).toMatchObject({ from: "2026-01-01", to: "2026-02-01" });
  });
  it("escapes commas and backslashes in filter values", () => {
    const filter = { op: "matches" as const, dimension: "event:props:path", values: ["a,b", "c\\d", ""] };
    expect(encodeFilter(filter)).toBe("matches,event:props:path,a\\,b,c\\\\d,");
    expect(decodeFilter(encodeFilter(filter))).toEqual(filter);
  });
});

describe("ranges in the site's days", () => {
  const today = "2026-03-10";
  it("ends relative periods today", () => {
    expect(dateRange({ ...defaultState(), period: "7d" }, today)).toEqual(["2026-03-04", "2026-03-10"]);
    expect(dateRange({ ...defaultState(), period: "30d" }, today)).toEqual(["2026-02-09", "2026-03-10"]);
    expect(dateRange({ ...defaultState(), period: "day" }, today)).toEqual(["2026-03-10", "2026-03-10"]);
    expect(dateRange({ ...defaultState(), period: "day", date: "2026-03-08" }, today)).toEqual(["2026-03-08", "2026-03-08"]);
    expect(dateRange({ ...defaultState(), period: "realtime" }, today)).toBe("realtime");
  });
  it("runs the current month and year to today, past months whole", () => {
    expect(dateRange({ ...defaultState(), period: "month" }, today)).toEqual(["2026-03-01", "2026-03-10"]);
    expect(dateRange({ ...defaultState(), period: "month", date: "2026-02-14" }, today)).toEqual(["2026-02-01", "2026-02-28"]);
    expect(dateRange({ ...defaultState(), period: "year" }, today)).toEqual(["2026-01-01", "2026-03-10"]);
    expect(dateRange({ ...defaultState(), period: "12mo" }, today)).toEqual(["2025-04-01", "2026-03-10"]);
  });
  it("knows today in the site's zone", () => {
    const now = new Date("2026-03-10T03:30:00Z");
    expect(todayIn("UTC", now)).toBe("2026-03-10");
    expect(todayIn("America/New_York", now)).toBe("2026-03-09");
    expect(todayIn("Asia/Tokyo", new Date("2026-03-10T20:00:00Z"))).toBe("2026-03-11");
  });
  it("moves days and months across their ends", () => {
    expect(addDays("2026-03-01", -1)).toBe("2026-02-28");
    expect(addDays("2024-02-28", 1)).toBe("2024-02-29");
    expect(addMonths("2026-03-31", -1)).toBe("2026-02-28");
    expect(addMonths("2026-12-15", 1)).toBe("2027-01-15");
  });
});

describe("intervals and comparisons", () => {
  const today = "2026-03-10";
  it("offers intervals that fit the range", () => {
    expect(intervalsFor({ ...defaultState(), period: "day" }, today)).toEqual(["minute", "hour"]);
    expect(intervalsFor({ ...defaultState(), period: "7d" }, today)).toEqual(["hour", "day"]);
    expect(intervalsFor({ ...defaultState(), period: "12mo" }, today)).toEqual(["day", "week", "month"]);
    expect(intervalOf({ ...defaultState(), period: "30d" }, today)).toBe("day");
    expect(intervalOf({ ...defaultState(), period: "year" }, today)).toBe("month");
    expect(intervalOf({ ...defaultState(), period: "30d", interval: "minute" }, today)).toBe("day");
    expect(intervalOf({ ...defaultState(), period: "30d", interval: "week" }, today)).toBe("week");
  });
  it("asks for the comparison chosen", () => {
    expect(comparisonOf(defaultState())).toBeNull();
    expect(comparisonOf({ ...defaultState(), comparison: "previous_period" })).toEqual({ mode: "previous_period" });
    expect(
      comparisonOf({ ...defaultState(), comparison: "custom", compareFrom: "2025-01-01", compareTo: "2025-01-31" }),
    ).toEqual({ mode: "custom", date_range: ["2025-01-01", "2025-01-31"] });
  });
});

describe("filters by clicking", () => {
  it("replaces the same dimension's filter and removes by index", () => {
    let state = withFilter(defaultState(), "visit:source", "Google");
    state = withFilter(state, "event:page", "/pricing");
    state = withFilter(state, "visit:source", "Bing");
    expect(state.filters).toEqual([
      { op: "is", dimension: "event:page", values: ["/pricing"] },
      { op: "is", dimension: "visit:source", values: ["Bing"] },
    ]);
    expect(withoutFilter(state, 0).filters).toEqual([{ op: "is", dimension: "visit:source", values: ["Bing"] }]);
    expect(withoutFilter(state).filters).toEqual([]);
  });
});
