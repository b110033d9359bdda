import { describe, expect, it } from "vitest";
import { failureRate, pluginHealth, RECENT_FAILURE_MS, runsOn } from "./plugin-status";

const now = 1_800_000_000_000;

describe("pluginHealth", () => {
  it("is idle before the first call and healthy without failures", () => {
    expect(pluginHealth({ calls: 0, failures: 0, last_error_at_ms: null }, now)).toBe("idle");
    expect(pluginHealth({ calls: 10, failures: 0, last_error_at_ms: null }, now)).toBe("healthy");
  });

  it("is failing after a recent failure, recovered after an old one", () => {
    expect(pluginHealth({ calls: 10, failures: 2, last_error_at_ms: now - 1000 }, now)).toBe("failing");
    expect(pluginHealth({ calls: 10, failures: 2, last_error_at_ms: now - RECENT_FAILURE_MS - 1 }, now)).toBe("recovered");
  });
});

describe("failureRate", () => {
  it("is failures per call in percent, none before a call", () => {
    expect(failureRate({ calls: 0, failures: 0 })).toBeNull();
    expect(failureRate({ calls: 200, failures: 3 })).toBe(1.5);
    expect(failureRate({ calls: 2, failures: 5 })).toBe(100);
  });
});

describe("runsOn", () => {
  it("is every site for null, else the listed ones", () => {
    expect(runsOn({ sites: null }, "a.com")).toBe(true);
    expect(runsOn({ sites: ["a.com"] }, "a.com")).toBe(true);
    expect(runsOn({ sites: ["b.com"] }, "a.com")).toBe(false);
  });
});
