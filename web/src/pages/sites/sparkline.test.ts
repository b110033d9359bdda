import { describe, expect, it } from "vitest";
import { lastBuckets, seriesOf, sparklinePath } from "./sparkline";

describe("sparklinePath", () => {
  it("draws nothing for no values", () => {
    expect(sparklinePath([], 100, 20)).toEqual({ line: "", area: "", max: 0 });
  });

  it("spreads points over the width and scales them to the largest", () => {
    const { line, area, max } = sparklinePath([0, 5, 10], 100, 22, 1);
    expect(max).toBe(10);
    expect(line).toBe("M0,21 L50,11 L100,1");
    expect(area).toBe("M0,21 L50,11 L100,1 L100,22 L0,22 Z");
  });

  it("lays an all-zero series flat on the bottom", () => {
    const { line, max } = sparklinePath([0, 0, 0, 0], 90, 20, 2);
    expect(max).toBe(0);
    expect(line).toBe("M0,18 L30,18 L60,18 L90,18");
  });

  it("draws a single value as a flat line across the whole width", () => {
    expect(sparklinePath([7], 80, 20, 2).line).toBe("M0,2 L80,2");
    expect(sparklinePath([0], 80, 20, 2).line).toBe("M0,18 L80,18");
  });

  it("counts missing and negative values as zero", () => {
    expect(sparklinePath([null, 4, undefined, -3, Number.NaN], 40, 10, 0).line).toBe("M0,10 L10,0 L20,10 L30,10 L40,10");
  });

  it("rounds coordinates to two decimals", () => {
    expect(sparklinePath([1, 2, 3], 10, 10, 0).line).toBe("M0,6.67 L5,3.33 L10,0");
  });
});

describe("seriesOf", () => {
  it("fills the buckets without a row with 0, in the labels' order", () => {
    const rows = [
      { dimensions: ["2026-12-03"], metrics: [4] },
      { dimensions: ["2026-12-01"], metrics: [2] },
    ];
    expect(seriesOf(["2026-12-01", "2026-12-02", "2026-12-03"], rows)).toEqual([2, 0, 4]);
  });

  it("takes the rows as they come without labels", () => {
    expect(seriesOf([], [{ dimensions: ["a"], metrics: [3] }, { dimensions: ["b"], metrics: ["x"] }])).toEqual([3, 0]);
  });
});

describe("lastBuckets", () => {
  it("drops the partial first hour of a rolling day", () => {
    const hours = Array.from({ length: 25 }, (_, index) => index);
    expect(lastBuckets(hours, 24)).toEqual(hours.slice(1));
    expect(lastBuckets([1, 2], 24)).toEqual([1, 2]);
  });
});
