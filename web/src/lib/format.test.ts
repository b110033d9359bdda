import { describe, expect, it } from "vitest";
import { formatBytes, formatCompact, formatDay, formatDuration, formatMetric, formatNumber, formatPercent, metricNumber } from "./format";

describe("format", () => {
  it("writes counts in the reader's language", () => {
    expect(formatNumber(1234567, "en")).toBe("1,234,567");
    expect(formatNumber(1234567, "de")).toBe("1.234.567");
    expect(formatCompact(9999, "en")).toBe("9,999");
    expect(formatCompact(12345, "en")).toBe("12.3K");
    expect(formatCompact(2_500_000, "en")).toBe("2.5M");
  });
  it("writes percentages", () => {
    expect(formatPercent(42, "en")).toBe("42%");
    expect(formatPercent(12.5, "de")).toBe("12,5\u00a0%");
  });
  it("writes sizes in decimal units, in the reader's language", () => {
    expect(formatBytes(0, "en")).toBe("0 bytes");
    expect(formatBytes(1, "en")).toBe("1 byte");
    expect(formatBytes(512, "en")).toBe("512 bytes");
    expect(formatBytes(567_890, "en")).toBe("567.9 kB");
    expect(formatBytes(567_890, "de")).toBe("567,9 kB");
    expect(formatBytes(1_234_567_890, "en")).toBe("1.2 GB");
    expect(formatBytes(5_000_000, "fr")).toMatch(/^5\s+Mo$/);
    // Just under a unit rounds up into the next one, not to "1,000 kB".
    expect(formatBytes(999_960, "en")).toBe("1 MB");
    expect(formatBytes(-5, "en")).toBe("0 bytes");
  });
  it("writes durations", () => {
    expect(formatDuration(0)).toBe("0s");
    expect(formatDuration(45.4)).toBe("45s");
    expect(formatDuration(185)).toBe("3m 05s");
    expect(formatDuration(3720)).toBe("1h 02m");
    expect(formatDuration(-3)).toBe("0s");
  });
  it("writes each metric its own way", () => {
    expect(formatMetric("bounce_rate", 61)).toBe("61%");
    expect(formatMetric("visit_duration", 75)).toBe("1m 15s");
    expect(formatMetric("visitors", null)).toBe("—");
    expect(formatMetric("total_revenue", { value: 140, currency: "EUR", long: "140.00 EUR" })).toBe("€140.00");
    expect(metricNumber({ value: 3.5, currency: "USD" })).toBe(3.5);
    expect(metricNumber(null)).toBeNull();
  });
  it("writes days", () => {
    expect(formatDay("2026-12-07", "en")).toBe("Dec 7, 2026");
    expect(formatDay("2026-12-07", "de")).toBe("7. Dez. 2026");
  });
});
