import { describe, expect, it } from "vitest";
import type { StatsAnswer } from "../../lib/stats";
import { buildSeries, formatBucket, formatTick, nowIn, splitCurrent, tickPositions } from "./series";

function answer(labels: string[], rows: [string, unknown][]): StatsAnswer {
  return { results: rows.map(([label, value]) => ({ dimensions: [label], metrics: [value] })), meta: { time_labels: labels }, query: {} };
}

const days = ["2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"];

describe("the graph's series", () => {
  it("fills empty buckets with zero for counts and none for averages", () => {
    const rows: [string, unknown][] = [["2026-12-01", 4], ["2026-12-03", 7]];
    const counts = buildSeries({ metric: "visitors", current: answer(days, rows), now: "2026-12-10 12:00:00", live: false });
    expect(counts.values).toEqual([4, 0, 7, 0]);
    expect(counts.current).toBeNull();
    const averages = buildSeries({ metric: "bounce_rate", current: answer(days, rows), now: "2026-12-10 12:00:00", live: false });
    expect(averages.values).toEqual([4, null, 7, null]);
  });
  it("leaves the future empty and marks the running bucket", () => {
    const hours = ["2026-12-07 12:00:00", "2026-12-07 13:00:00", "2026-12-07 14:00:00", "2026-12-07 15:00:00"];
    const series = buildSeries({
      metric: "pageviews",
      current: answer(hours, [["2026-12-07 12:00:00", 3], ["2026-12-07 14:00:00", 1]]),
      now: "2026-12-07 14:27:31",
      live: true,
    });
    expect(series.values).toEqual([3, 0, 1, null]);
    expect(series.current).toBe(2);
  });
  it("aligns the comparison bucket by bucket, even where this period has no row", () => {
    const before = ["2026-11-27", "2026-11-28", "2026-11-29", "2026-11-30"];
    const series = buildSeries({
      metric: "visitors",
      current: answer(days, [["2026-12-04", 1]]),
      comparison: answer(before, [["2026-11-27", 9], ["2026-11-29", 2]]),
      now: "2026-12-04 10:00:00",
      live: true,
    });
    expect(series.compareLabels).toEqual(before);
    expect(series.compareValues).toEqual([9, 0, 2, 0]);
    expect(series.current).toBe(3);
  });
  it("pads a shorter comparison (February against January)", () => {
    const series = buildSeries({
      metric: "visit_duration",
      current: answer(["2026-01-29", "2026-01-30", "2026-01-31"], [["2026-01-29", 60]]),
      comparison: answer(["2025-12-30", "2025-12-31"], [["2025-12-31", 30]]),
      now: "2026-02-10 00:00:00",
      live: false,
    });
    expect(series.compareLabels).toEqual(["2025-12-30", "2025-12-31", null]);
    expect(series.compareValues).toEqual([null, 30, null]);
  });
  it("trims the empty start of all time", () => {
    const months = ["2000-01-01", "2000-02-01", "2026-11-01", "2026-12-01"];
    const series = buildSeries({
      metric: "visitors",
      current: answer(months, [["2026-11-01", 10], ["2026-12-01", 3]]),
      now: "2026-12-07 00:00:00",
      live: true,
      trimLeading: true,
    });
    expect(series.labels).toEqual(["2026-11-01", "2026-12-01"]);
    expect(series.current).toBe(1);
  });
  it("uses the rows' buckets when the answer has no labels", () => {
    const series = buildSeries({
      metric: "visitors",
      current: { results: [{ dimensions: ["2026-12-02"], metrics: [2] }, { dimensions: ["2026-12-01"], metrics: [1] }], meta: {}, query: {} },
      now: "2026-12-07 00:00:00",
      live: false,
    });
    expect(series.labels).toEqual(["2026-12-01", "2026-12-02"]);
    expect(series.values).toEqual([1, 2]);
  });
  it("splits the running bucket off as a dashed stretch", () => {
    expect(splitCurrent([1, 2, 3, null], 2)).toEqual({ settled: [1, 2, null, null], running: [null, 2, 3, null] });
    expect(splitCurrent([1, 2], null)).toEqual({ settled: [1, 2], running: [null, null] });
  });
});

describe("time labels", () => {
  it("read in the reader's language, as the site's local time", () => {
    expect(formatBucket("2026-12-07 14:00:00", "hour", "en").replace(/\s/g, " ")).toBe("Mon, Dec 7, 2:00 PM");
    expect(formatBucket("2026-12-07 14:00:00", "hour", "de")).toBe("Mo., 7. Dez., 14:00");
    expect(formatBucket("2026-12-07", "day", "en")).toBe("Mon, Dec 7, 2026");
    expect(formatBucket("2026-12-01", "month", "fr")).toBe("décembre 2026");
    expect(formatTick("2026-12-07", "day", "en")).toBe("Dec 7");
    expect(formatTick("2026-11-01", "month", "en")).toBe("Nov 2026");
    expect(formatTick("2026-12-07 09:05:00", "minute", "de")).toBe("9:05");
  });
  it("give now in the site's zone as the API writes labels", () => {
    const at = new Date("2026-12-07T14:05:09Z");
    expect(nowIn("UTC", at)).toBe("2026-12-07 14:05:09");
    expect(nowIn("America/New_York", at)).toBe("2026-12-07 09:05:09");
    expect(nowIn("Asia/Tokyo", new Date("2026-12-07T23:30:00Z"))).toBe("2026-12-08 08:30:00");
  });
  it("are thinned to fit the axis", () => {
    expect(tickPositions(30, 6)).toEqual([0, 5, 10, 15, 20, 25]);
    expect(tickPositions(4, 10)).toEqual([0, 1, 2, 3]);
    expect(tickPositions(0, 5)).toEqual([]);
  });
});
