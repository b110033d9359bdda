import { describe, expect, it } from "vitest";
import {
  addStep,
  canAddStep,
  canRemoveStep,
  describeStep,
  emptyStep,
  initialSteps,
  MAX_STEPS,
  MIN_STEPS,
  moveStep,
  removeStep,
  stepProblem,
  toApiStep,
  updateStep,
  type StepDraft,
} from "./steps";

let ids = 1000;
const page = (value: string): StepDraft => ({ id: (ids += 1), kind: "page", value, props: [] });

describe("a funnel's steps", () => {
  it("start with the fewest a funnel has, each with its own id", () => {
    const steps = initialSteps();
    expect(steps).toHaveLength(MIN_STEPS);
    expect(steps[0].id).not.toBe(steps[1].id);
    expect(emptyStep("event")).toMatchObject({ kind: "event", value: "", props: [] });
  });

  it("grow up to eight, keeping the last step's kind", () => {
    let steps: StepDraft[] = [page("/a"), { id: 1, kind: "event", value: "Signup", props: [] }];
    steps = addStep(steps);
    expect(steps[2]).toMatchObject({ kind: "event", value: "", props: [] });
    expect(new Set(steps.map((step) => step.id)).size).toBe(3);
    while (canAddStep(steps)) steps = addStep(steps);
    expect(steps).toHaveLength(MAX_STEPS);
    expect(addStep(steps)).toHaveLength(MAX_STEPS);
  });

  it("shrink down to two, no further", () => {
    const steps = [page("/a"), page("/b"), page("/c")];
    expect(removeStep(steps, 1).map((s) => s.value)).toEqual(["/a", "/c"]);
    const two = removeStep(steps, 0);
    expect(canRemoveStep(two)).toBe(false);
    expect(removeStep(two, 0)).toEqual(two);
    expect(removeStep(steps, 7)).toEqual(steps);
  });

  it("keep their ids when moved", () => {
    const steps = [page("/a"), page("/b")];
    expect(moveStep(steps, 1, -1).map((s) => s.id)).toEqual([steps[1].id, steps[0].id]);
  });

  it("move up and down within the list", () => {
    const steps = [page("/a"), page("/b"), page("/c")];
    expect(moveStep(steps, 2, -1).map((s) => s.value)).toEqual(["/a", "/c", "/b"]);
    expect(moveStep(steps, 0, 1).map((s) => s.value)).toEqual(["/b", "/a", "/c"]);
    expect(moveStep(steps, 0, -1)).toEqual(steps);
    expect(moveStep(steps, 2, 1)).toEqual(steps);
  });

  it("change one step only", () => {
    const steps = [page("/a"), page("/b")];
    const changed = updateStep(steps, 1, { kind: "event", value: "Buy" });
    expect(changed[1]).toEqual({ id: steps[1].id, kind: "event", value: "Buy", props: [] });
    expect(changed[0]).toBe(steps[0]);
  });
});

describe("a step's checks", () => {
  it("want a page pattern starting with a slash", () => {
    expect(stepProblem(page(""))).toBe("page_empty");
    expect(stepProblem(page("blog"))).toBe("page_slash");
    expect(stepProblem(page("/blog/**"))).toBeNull();
  });

  it("want a custom event's name, and distinct property keys", () => {
    const event = (value: string, props: { key: string; value: string }[] = []): StepDraft => ({ id: 1, kind: "event", value, props });
    expect(stepProblem(event(" "))).toBe("event_empty");
    expect(stepProblem(event("pageview"))).toBe("event_reserved");
    expect(stepProblem(event("Signup", [{ key: "", value: "pro" }]))).toBe("prop_key_empty");
    expect(stepProblem(event("Signup", [{ key: "plan", value: "a" }, { key: "plan", value: "b" }]))).toBe("prop_key_repeated");
    expect(stepProblem(event("Signup", [{ key: "", value: "" }, { key: "plan", value: "pro" }]))).toBeNull();
    const many = Array.from({ length: 11 }, (_, i) => ({ key: `k${i}`, value: "v" }));
    expect(stepProblem(event("Signup", many))).toBe("too_many_props");
  });
});

describe("steps for the API", () => {
  it("sends pages and events, leaving blank property rows out", () => {
    expect(toApiStep(page(" /pricing "))).toEqual({ page: "/pricing" });
    expect(toApiStep({ id: 1, kind: "event", value: "Signup", props: [{ key: "", value: "" }] })).toEqual({ event: "Signup" });
    expect(toApiStep({ id: 1, kind: "event", value: "Signup", props: [{ key: " plan ", value: "pro" }] })).toEqual({
      event: "Signup",
      props: { plan: "pro" },
    });
  });

  it("describes stored steps briefly", () => {
    expect(describeStep({ kind: "page", pattern: "/blog/**" })).toBe("/blog/**");
    expect(describeStep({ kind: "event", event: "Signup" })).toBe("Signup");
    expect(describeStep({ kind: "event", event: "Signup", props: { plan: "pro", seats: "5" } })).toBe("Signup (plan = pro, seats = 5)");
  });
});
