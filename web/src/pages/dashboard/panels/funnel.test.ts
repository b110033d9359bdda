import { describe, expect, it } from "vitest";
import { funnelBars, funnelConversion, stepLabel } from "./funnel";

const steps = [
  { visitors: 1000, dropped: 0, conversion_rate: 100, median_seconds_from_previous: null },
  { visitors: 400, dropped: 600, conversion_rate: 40, median_seconds_from_previous: 95 },
  { visitors: 100, dropped: 300, conversion_rate: 10, median_seconds_from_previous: 30.5 },
];

describe("funnel drop-off", () => {
  it("draws each step against the first, its drop-off shaded after its bar", () => {
    const bars = funnelBars(steps);
    expect(bars.map((bar) => bar.bar)).toEqual([100, 40, 10]);
    expect(bars.map((bar) => bar.droppedBar)).toEqual([0, 60, 30]);
    // The bar and the part that dropped end where the step before's bar ends.
    for (let index = 1; index < bars.length; index += 1) expect(bars[index].bar + bars[index].droppedBar).toBe(bars[index - 1].bar);
  });
  it("counts who dropped and the shares", () => {
    const bars = funnelBars(steps);
    expect(bars.map((bar) => bar.dropped)).toEqual([0, 600, 300]);
    expect(bars.map((bar) => bar.conversion)).toEqual([100, 40, 10]);
    expect(bars.map((bar) => bar.fromPrevious)).toEqual([100, 40, 25]);
    expect(bars.map((bar) => bar.dropOff)).toEqual([0, 60, 75]);
    expect(bars.map((bar) => bar.medianSeconds)).toEqual([null, 95, 30.5]);
    expect(funnelConversion(steps)).toBe(10);
  });
  it("holds with nobody in the funnel", () => {
    const bars = funnelBars([
      { visitors: 0, dropped: 0, conversion_rate: 0 },
      { visitors: 0, dropped: 0, conversion_rate: 0 },
    ]);
    expect(bars.map((bar) => [bar.bar, bar.droppedBar, bar.conversion, bar.dropOff])).toEqual([
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ]);
    expect(funnelConversion([])).toBe(0);
  });
  it("writes steps as they were defined", () => {
    expect(stepLabel({ kind: "page", pattern: "/pricing" })).toBe("/pricing");
    expect(stepLabel({ kind: "event", event: "Signup", props: { plan: "pro" } })).toBe("Signup (plan=pro)");
    expect(stepLabel({ kind: "event", event: "Signup" })).toBe("Signup");
  });
});
