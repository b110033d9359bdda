import { describe, expect, it } from "vitest";
import type { StatsAnswer } from "../../../lib/stats";
import { barWidth, externalUrl, hasMoney, moreRows, rowsOf, shadeOf, shareOf } from "./rows";
import { rowFlag, rowLabel } from "./labels";

const answer = (results: [string | null, ...unknown[]][], total?: number): StatsAnswer => ({
  results: results.map(([dimension, ...metrics]) => ({ dimensions: [dimension], metrics })),
  meta: total === undefined ? {} : { total_rows: total },
  query: {},
});

describe("bars", () => {
  it("fills the panel with the biggest row and scales the others", () => {
    const rows = rowsOf(answer([["/", 200, 10], ["/blog", 50, 3], ["/about", 0, 0]], 12));
    expect(rows.map((row) => row.bar)).toEqual([100, 25, 0]);
    expect(rows[1]).toEqual({ value: "/blog", metrics: [50, 3], bar: 25 });
  });
  it("never draws a bar too thin to see, nor one beyond the panel", () => {
    expect(barWidth(1, 100_000)).toBe(0.5);
    expect(barWidth(120, 100)).toBe(100);
    expect(barWidth(0, 100)).toBe(0);
    expect(barWidth(null, 100)).toBe(0);
    expect(barWidth(5, 0)).toBe(0);
  });
  it("draws revenue by its value", () => {
    const rows = rowsOf(answer([["Purchase", { value: 30, currency: "EUR" }], ["Tip", { value: 7.5, currency: "EUR" }]]));
    expect(rows.map((row) => row.bar)).toEqual([100, 25]);
  });
  it("counts the rows not shown", () => {
    expect(moreRows(answer([["a", 1], ["b", 1]], 12))).toBe(10);
    expect(moreRows(answer([["a", 1]], 1))).toBe(0);
    expect(moreRows(answer([["a", 1]]))).toBe(0);
    expect(moreRows(null)).toBe(0);
  });
  it("shares", () => {
    expect(shareOf(25, 200)).toBe(12.5);
    expect(shareOf(3, 0)).toBe(0);
  });
  it("knows when a column has money", () => {
    expect(hasMoney(answer([["a", 1, null], ["b", 2, { value: 3, currency: "USD" }]]), 1)).toBe(true);
    expect(hasMoney(answer([["a", 1, null]]), 1)).toBe(false);
  });
});

describe("map shades", () => {
  it("shades the biggest country fully, the smallest still visibly, none not at all", () => {
    expect(shadeOf(500, 500)).toBe(1);
    expect(shadeOf(0, 500)).toBe(0);
    expect(shadeOf(5, 500)).toBeCloseTo(0.18 + 0.82 * 0.1);
    expect(shadeOf(1, 1_000_000)).toBeGreaterThan(0.18);
    expect(shadeOf(125, 500)).toBeLessThan(shadeOf(250, 500));
  });
});

describe("labels and links", () => {
  it("names countries in the reader's language, with their flag", () => {
    expect(rowLabel({ label: "country" }, "DE", "en")).toBe("Germany");
    expect(rowLabel({ label: "country" }, "DE", "de")).toBe("Deutschland");
    expect(rowLabel({ label: "country" }, "(not set)", "en")).toBe("(not set)");
    expect(rowFlag({ label: "country" }, "FR")).toBe("🇫🇷");
    expect(rowFlag({ label: "text" }, "FR")).toBe("");
  });
  it("puts a version after its parent", () => {
    expect(rowLabel({ label: "version", prefix: "Chrome" }, "120", "en")).toBe("Chrome 120");
    expect(rowLabel({ label: "text" }, null, "en")).toBe("(not set)");
  });
  it("links pages to the site and referrers to themselves", () => {
    expect(externalUrl("page", "/blog/post?x=1", "example.com")).toBe("https://example.com/blog/post?x=1");
    expect(externalUrl("page", "(not set)", "example.com")).toBeNull();
    expect(externalUrl("referrer", "news.ycombinator.com/item", "example.com")).toBe("https://news.ycombinator.com/item");
    expect(externalUrl("referrer", "https://t.co/abc", "example.com")).toBe("https://t.co/abc");
    expect(externalUrl("referrer", "Direct / None", "example.com")).toBeNull();
    expect(externalUrl("source", "Google", "example.com")).toBeNull();
    expect(externalUrl("page", null, "example.com")).toBeNull();
  });
});
