// Goals' and funnels' steps as edited in a form: a page pattern, or a custom event with
// property conditions; and a funnel's ordered list of 2 to 8 of them.

export const MIN_STEPS = 2;
export const MAX_STEPS = 8;
export const MAX_PROPS = 10;

export interface PropDraft {
  key: string;
  value: string;
}

export interface StepDraft {
  /** Stable while the step is edited and moved (a list key), unique in the page. */
  id: number;
  kind: "page" | "event";
  /** The page pattern or the event's name. */
  value: string;
  props: PropDraft[];
}

/** A step as the API takes it (goals and funnels alike). */
export type ApiStep = { page: string } | { event: string; props?: Record<string, string> };

/** A goal or step as the API answers it. */
export type StoredStep = { kind: "page"; pattern: string } | { kind: "event"; event: string; props?: Record<string, string> };

let lastId = 0;

export function emptyStep(kind: StepDraft["kind"] = "page"): StepDraft {
  lastId += 1;
  return { id: lastId, kind, value: "", props: [] };
}

/** A new funnel's steps: the fewest a funnel has. */
export function initialSteps(): StepDraft[] {
  return Array.from({ length: MIN_STEPS }, () => emptyStep());
}

export const canAddStep = (steps: readonly StepDraft[]) => steps.length < MAX_STEPS;
export const canRemoveStep = (steps: readonly StepDraft[]) => steps.length > MIN_STEPS;

/** `steps` with an empty step at the end, unless there are already `MAX_STEPS`. */
export function addStep(steps: readonly StepDraft[]): StepDraft[] {
  return canAddStep(steps) ? [...steps, emptyStep(steps[steps.length - 1]?.kind ?? "page")] : [...steps];
}

/** `steps` without step `index`, unless that leaves fewer than `MIN_STEPS`. */
export function removeStep(steps: readonly StepDraft[], index: number): StepDraft[] {
  if (!canRemoveStep(steps) || index < 0 || index >= steps.length) return [...steps];
  return steps.filter((_, at) => at !== index);
}

/** `steps` with step `index` moved by `by` places (-1: up), kept within the list. */
export function moveStep(steps: readonly StepDraft[], index: number, by: number): StepDraft[] {
  const target = index + by;
  if (index < 0 || index >= steps.length || target < 0 || target >= steps.length) return [...steps];
  const next = [...steps];
  const [moved] = next.splice(index, 1);
  next.splice(target, 0, moved);
  return next;
}

/** `steps` with step `index` changed. */
export function updateStep(steps: readonly StepDraft[], index: number, change: Partial<StepDraft>): StepDraft[] {
  return steps.map((step, at) => (at === index ? { ...step, ...change } : step));
}

/** Why a step cannot be sent (a key of the `settings` translations), or null. */
export type StepProblem = "page_empty" | "page_slash" | "event_empty" | "event_reserved" | "prop_key_empty" | "prop_key_repeated" | "too_many_props";

export function stepProblem(step: StepDraft): StepProblem | null {
  const value = step.value.trim();
  if (step.kind === "page") {
    if (!value) return "page_empty";
    if (!value.startsWith("/")) return "page_slash";
    return null;
  }
  if (!value) return "event_empty";
  if (value === "pageview" || value === "engagement") return "event_reserved";
  const filled = step.props.filter((prop) => prop.key.trim() || prop.value.trim());
  if (filled.length > MAX_PROPS) return "too_many_props";
  const keys = new Set<string>();
  for (const prop of filled) {
    const key = prop.key.trim();
    if (!key) return "prop_key_empty";
    if (keys.has(key)) return "prop_key_repeated";
    keys.add(key);
  }
  return null;
}

/** A (valid) step as the API takes it; blank property rows are left out. */
export function toApiStep(step: StepDraft): ApiStep {
  const value = step.value.trim();
  if (step.kind === "page") return { page: value };
  const props: Record<string, string> = {};
  for (const prop of step.props) {
    if (prop.key.trim()) props[prop.key.trim()] = prop.value;
  }
  return Object.keys(props).length > 0 ? { event: value, props } : { event: value };
}

/** A stored goal or step as a short text: `/blog/**`, `Signup (plan = pro)`. */
export function describeStep(step: StoredStep): string {
  if (step.kind === "page") return step.pattern;
  const props = Object.entries(step.props ?? {});
  if (props.length === 0) return step.event;
  return `${step.event} (${props.map(([key, value]) => `${key} = ${value}`).join(", ")})`;
}
