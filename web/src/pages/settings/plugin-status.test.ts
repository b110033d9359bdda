import { describe, expect, it } from "vitest";
import { pluginsOf } from "./plugin-status";

describe("pluginsOf", () => {
  it("reads a list or an object holding one", () => {
    const plugin = { name: "geo", status: "loaded", calls: 12, errors: 0 };
    expect(pluginsOf([plugin])).toHaveLength(1);
    expect(pluginsOf({ plugins: [plugin] })).toHaveLength(1);
    expect(pluginsOf(null)).toEqual([]);
    expect(pluginsOf({ other: 1 })).toEqual([]);
  });

  it("takes the name, status, sites, error and numeric counters", () => {
    const [plugin] = pluginsOf([
      { name: "bot-filter", state: "failed", last_error: "trap: unreachable", sites: ["a.com"], path: "/p/bot.wasm", events: 5, loaded_at_ms: 1, label: "x" },
    ]);
    expect(plugin).toEqual({
      name: "bot-filter",
      status: "failed",
      healthy: false,
      version: null,
      path: "/p/bot.wasm",
      sites: ["a.com"],
      error: "trap: unreachable",
      loadedAtMs: 1,
      counters: [["events", 5]],
    });
  });

  it("calls loaded plugins healthy, reads nested counters and treats no sites as every site", () => {
    const [plugin] = pluginsOf([{ name: "geo", status: "Loaded", sites: [], counters: { calls: 3, drops: 1 } }]);
    expect(plugin.healthy).toBe(true);
    expect(plugin.sites).toBeNull();
    expect(plugin.counters).toEqual([
      ["calls", 3],
      ["drops", 1],
    ]);
  });
});
