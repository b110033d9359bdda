import { describe, expect, it } from "vitest";
import { defaultState, serializeState, type DashboardState } from "../../lib/dashboard-state";
import { applyCustom, applyPreset, customRangeError, dayRangeLabel, PRESETS, presetOf, rangeLabel, stepOf } from "./range";

const today = "2026-12-07";
const state = (patch: Partial<DashboardState> = {}): DashboardState => ({ ...defaultState(), ...patch });

describe("presets", () => {
  it("have one key each", () => {
    const keys = PRESETS.map((preset) => preset.key);
    expect(new Set(keys).size).toBe(keys.length);
  });
  it("open their period and keep the filters and metric", () => {
    const before = state({
      period: "custom",
      from: "2026-01-01",
      to: "2026-01-31",
      interval: "week",
      metric: "bounce_rate",
      filters: [{ op: "is", dimension: "visit:source", values: ["Google"] }],
    });
    const yesterday = applyPreset(before, "yesterday", today);
    expect(serializeState(yesterday)).toBe("period=day&date=2026-12-06&f=is%2Cvisit%3Asource%2CGoogle&metric=bounce_rate");
    expect(applyPreset(before, "last_month", today)).toMatchObject({ period: "month", date: "2026-11-01", from: undefined, interval: null });
    expect(applyPreset(before, "this_month", today)).toMatchObject({ period: "month", date: undefined });
    expect(applyPreset(before, "7d", today).period).toBe("7d");
  });
  it("drop the comparison, and metrics it cannot draw, where they make no sense", () => {
    const compared = state({ comparison: "previous_period", metric: "bounce_rate" });
    expect(applyPreset(compared, "realtime", today)).toMatchObject({ comparison: null, metric: "visitors" });
    expect(applyPreset(compared, "all", today)).toMatchObject({ comparison: null, metric: "bounce_rate" });
    expect(applyPreset(compared, "28d", today).comparison).toBe("previous_period");
  });
  it("are recognised back from the state", () => {
    for (const preset of PRESETS) expect(presetOf(applyPreset(state(), preset.id, today), today)).toBe(preset.id);
    expect(presetOf(state({ period: "day", date: "2026-12-01" }), today)).toBeNull();
    expect(presetOf(state({ period: "month", date: "2026-09-01" }), today)).toBeNull();
    // Last month in January is December of the year before.
    expect(applyPreset(state(), "last_month", "2027-01-15").date).toBe("2026-12-01");
  });
});

describe("range labels", () => {
  it("name presets, days, months and custom ranges in the reader's language", () => {
    expect(rangeLabel(state(), today, "en")).toBe("Last 30 days");
    expect(rangeLabel(state({ period: "day", date: "2026-12-01" }), today, "en")).toBe("Tue, Dec 1");
    expect(rangeLabel(state({ period: "day", date: "2025-12-01" }), today, "en")).toBe("Mon, Dec 1, 2025");
    expect(rangeLabel(state({ period: "month", date: "2026-09-14" }), today, "en")).toBe("September 2026");
    expect(rangeLabel(state({ period: "month", date: "2026-09-14" }), today, "de")).toBe("September 2026");
    expect(rangeLabel(state({ period: "month", date: "2026-09-14" }), today, "fr")).toBe("septembre 2026");
    const spaced = (text: string) => text.replace(/\s/g, " ");
    expect(spaced(rangeLabel(state({ period: "custom", from: "2026-11-28", to: "2026-12-05" }), today, "en"))).toBe("Nov 28 – Dec 5, 2026");
    expect(spaced(dayRangeLabel("2026-12-01", "2026-12-05", "de"))).toBe("1.–5. Dez. 2026");
    expect(dayRangeLabel("2026-12-05", "2026-12-05", "en")).toBe("Dec 5, 2026");
  });
});

describe("stepping", () => {
  it("moves a day back and forth, never past today", () => {
    const step = stepOf(state({ period: "day" }), today);
    expect(step?.previous.date).toBe("2026-12-06");
    expect(step?.next).toBeNull();
    const back = stepOf(state({ period: "day", date: "2026-12-06" }), today);
    // Stepping onto today leaves the date out, so the URL says "today" and stays live.
    expect(back?.next?.date).toBeUndefined();
  });
  it("moves a month, and not other periods", () => {
    const step = stepOf(state({ period: "month", date: "2026-03-31" }), today);
    expect(step?.previous.date).toBe("2026-02-01");
    expect(step?.next?.date).toBe("2026-04-01");
    expect(stepOf(state({ period: "month", date: "2026-11-01" }), today)?.next?.date).toBeUndefined();
    expect(stepOf(state({ period: "month" }), today)?.next).toBeNull();
    expect(stepOf(state({ period: "7d" }), today)).toBeNull();
  });
});

describe("custom ranges", () => {
  it("are validated", () => {
    expect(customRangeError("2026-11-01", "2026-11-30", today)).toBeNull();
    expect(customRangeError("2026-11-30", "2026-11-01", today)).toBe("dashboard.custom_order");
    expect(customRangeError("2026-11-01", "2026-12-08", today)).toBe("dashboard.custom_bounds");
    expect(customRangeError("1999-12-31", "2026-12-01", today)).toBe("dashboard.custom_bounds");
    expect(customRangeError("", "2026-12-01", today)).toBe("dashboard.custom_invalid");
    expect(customRangeError("2026-13-01", "2026-12-01", today)).toBe("dashboard.custom_invalid");
  });
  it("become the state", () => {
    expect(serializeState(applyCustom(state({ interval: "day" }), "2026-11-01", "2026-11-30"))).toBe("period=custom&from=2026-11-01&to=2026-11-30");
  });
});
