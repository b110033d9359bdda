import { describe, expect, it } from "vitest";
import { defaultState, type DashboardState } from "../../lib/dashboard-state";
import { canCompare, changeMagnitude, comparisonRange, computeChange, describeChange, withComparison } from "./comparison";

const today = "2026-12-07";
const state = (patch: Partial<DashboardState> = {}): DashboardState => ({ ...defaultState(), ...patch });

describe("the comparison's days", () => {
  it("are the same number of days just before", () => {
    expect(comparisonRange(state({ period: "7d", comparison: "previous_period" }), today)).toEqual({ from: "2026-11-24", to: "2026-11-30" });
    expect(comparisonRange(state({ period: "day", comparison: "previous_period" }), today)).toEqual({ from: "2026-12-06", to: "2026-12-06" });
    // This month so far (7 days) against the 7 days before it.
    expect(comparisonRange(state({ period: "month", comparison: "previous_period" }), today)).toEqual({ from: "2026-11-24", to: "2026-11-30" });
  });
  it("are a year before, or the custom range", () => {
    expect(comparisonRange(state({ period: "custom", from: "2024-02-01", to: "2024-02-29", comparison: "year_over_year" }), today)).toEqual({
      from: "2023-02-01",
      to: "2023-02-28",
    });
    expect(
      comparisonRange(state({ comparison: "custom", compareFrom: "2026-01-01", compareTo: "2026-01-30" }), today),
    ).toEqual({ from: "2026-01-01", to: "2026-01-30" });
  });
  it("do not exist for realtime and all time", () => {
    expect(canCompare(state({ period: "realtime" }))).toBe(false);
    expect(comparisonRange(state({ period: "all", comparison: "previous_period" }), today)).toBeNull();
    expect(comparisonRange(state({ comparison: null }), today)).toBeNull();
  });
});

describe("changes", () => {
  it("are computed as the API does: percent, points for the bounce rate", () => {
    expect(computeChange("visitors", 150, 100)).toBe(50);
    expect(computeChange("visitors", 1, 3)).toBe(-66.7);
    expect(computeChange("visitors", 5, 0)).toBe(100);
    expect(computeChange("visitors", 0, 0)).toBe(0);
    expect(computeChange("bounce_rate", 45, 52)).toBe(-7);
    expect(computeChange("visit_duration", null, 30)).toBeNull();
  });
  it("say whether they are good news", () => {
    expect(describeChange("visitors", 12)).toEqual({ value: 12, unit: "percent", direction: "up", sense: "good" });
    expect(describeChange("pageviews", -3)).toMatchObject({ direction: "down", sense: "bad" });
    // A bounce rate that falls is good, and is in points.
    expect(describeChange("bounce_rate", -4)).toEqual({ value: -4, unit: "points", direction: "down", sense: "good" });
    expect(describeChange("bounce_rate", 4)).toMatchObject({ sense: "bad" });
    // Longer visits are good.
    expect(describeChange("visit_duration", 20)).toMatchObject({ sense: "good" });
    expect(describeChange("visitors", 0)).toMatchObject({ direction: "flat", sense: "neutral" });
    expect(describeChange("visitors", null)).toBeNull();
  });
  it("read without their sign", () => {
    expect(changeMagnitude(describeChange("visitors", -12.4)!, "en")).toBe("12%");
    expect(changeMagnitude(describeChange("visitors", 2.5)!, "en")).toBe("2.5%");
    expect(changeMagnitude(describeChange("visitors", 2.5)!, "de").replace(/\s/g, " ")).toBe("2,5 %");
    expect(changeMagnitude(describeChange("bounce_rate", -3)!, "en")).toBe("3");
  });
});

describe("choosing a comparison", () => {
  it("keeps a custom range only with it", () => {
    expect(withComparison(state(), "custom", { from: "2026-01-01", to: "2026-01-31" })).toMatchObject({
      comparison: "custom",
      compareFrom: "2026-01-01",
    });
    expect(withComparison(state({ comparison: "custom", compareFrom: "2026-01-01", compareTo: "2026-01-02" }), "year_over_year")).toMatchObject({
      comparison: "year_over_year",
      compareFrom: undefined,
    });
    expect(withComparison(state(), null).comparison).toBeNull();
  });
});
