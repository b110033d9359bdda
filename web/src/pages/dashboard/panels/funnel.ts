// A funnel report (`POST /api/sites/{d}/funnels/{name}/report`) as the panel draws it: per
// step the bar of its visitors and the shaded part that dropped off since the step before,
// both against the first step. Pure, tested in funnel.test.ts.
import { barWidth, shareOf } from "./rows";

export interface FunnelStepAnswer {
  visitors: number;
  dropped: number;
  conversion_rate: number;
  median_seconds_from_previous?: number | null;
}

export type FunnelStepDef = { kind: "page"; pattern: string } | { kind: "event"; event: string; props?: Record<string, string> };

export interface FunnelAnswer {
  funnel: { name: string; steps: FunnelStepDef[]; window_ms?: number | null };
  steps: FunnelStepAnswer[];
}

export interface FunnelBar {
  visitors: number;
  /** The bar of the step's visitors, in percent of the first step's. */
  bar: number;
  /** The part of the step before's bar that did not reach this step, in percent of the first. */
  droppedBar: number;
  dropped: number;
  /** Of the first step's visitors, in percent. */
  conversion: number;
  /** Of the step before's visitors who got here, in percent (100 for the first step). */
  fromPrevious: number;
  /** Of the step before's visitors who dropped off here, in percent. */
  dropOff: number;
  medianSeconds: number | null;
}

/** The bars of a report's steps; the numbers are recomputed from `visitors` so they always add up. */
export function funnelBars(steps: FunnelStepAnswer[]): FunnelBar[] {
  const first = steps[0]?.visitors ?? 0;
  return steps.map((step, index) => {
    const previous = index === 0 ? step.visitors : steps[index - 1].visitors;
    const dropped = index === 0 ? 0 : Math.max(0, previous - step.visitors);
    return {
      visitors: step.visitors,
      bar: barWidth(step.visitors, first),
      droppedBar: index === 0 ? 0 : Math.max(0, barWidth(previous, first) - barWidth(step.visitors, first)),
      dropped,
      conversion: shareOf(step.visitors, first),
      fromPrevious: index === 0 ? 100 : shareOf(step.visitors, previous),
      dropOff: index === 0 ? 0 : shareOf(dropped, previous),
      medianSeconds: index === 0 ? null : (step.median_seconds_from_previous ?? null),
    };
  });
}

/** The whole funnel's conversion: the last step's visitors of the first's, in percent. */
export function funnelConversion(steps: FunnelStepAnswer[]): number {
  if (steps.length === 0) return 0;
  return shareOf(steps[steps.length - 1].visitors, steps[0].visitors);
}

/** A step as words: its page pattern or its event (with its property values). */
export function stepLabel(step: FunnelStepDef): string {
  if (step.kind === "page") return step.pattern;
  const props = Object.entries(step.props ?? {}).map(([key, value]) => `${key}=${value}`);
  return props.length ? `${step.event} (${props.join(", ")})` : step.event;
}
