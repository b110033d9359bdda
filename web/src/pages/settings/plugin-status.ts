// `GET /api/plugins` (instance admins): the enrichment plugins the aggregator runs, with
// their calls and failures since they were (re)loaded; and how each one is faring.

export interface PluginStatus {
  name: string;
  /** The sites it runs on; null: every site. */
  sites: string[] | null;
  /** What happens to an event when the plugin fails on it. */
  on_failure: "pass" | "dead_letter";
  loaded_at_ms: number;
  calls: number;
  /** Failed calls, and events answered against the contract. */
  failures: number;
  last_error_at_ms: number | null;
  last_error_kind: "trap" | "timeout" | "memory" | "bad_output" | null;
  /** The kind in a sentence (never event data). */
  last_error: string | null;
}

export interface PluginsStatus {
  /** False when no plugins are configured. */
  enabled: boolean;
  plugins: PluginStatus[];
}

/** A failure this recent makes a plugin "failing" rather than "recovered". */
export const RECENT_FAILURE_MS = 60 * 60_000;

export type PluginHealth = "idle" | "healthy" | "recovered" | "failing";

/** How a plugin fares at `now`: never called, no failures, failures long ago, or failing lately. */
export function pluginHealth(plugin: Pick<PluginStatus, "calls" | "failures" | "last_error_at_ms">, now: number): PluginHealth {
  if (plugin.failures > 0 && plugin.last_error_at_ms !== null && now - plugin.last_error_at_ms < RECENT_FAILURE_MS) return "failing";
  if (plugin.calls === 0) return "idle";
  return plugin.failures > 0 ? "recovered" : "healthy";
}

/** Failures per call, in percent (null before the first call). */
export function failureRate(plugin: Pick<PluginStatus, "calls" | "failures">): number | null {
  if (plugin.calls === 0) return null;
  return Math.min(100, (plugin.failures / plugin.calls) * 100);
}

/** Whether the plugin runs on `domain`. */
export function runsOn(plugin: Pick<PluginStatus, "sites">, domain: string): boolean {
  return plugin.sites === null || plugin.sites.includes(domain);
}
