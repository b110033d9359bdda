// Reads `GET /api/plugins` leniently: a list of plugins (or `{plugins: [...]}`), each with a
// name, a status and whatever counters the server reports, so the section keeps working as
// the answer gains fields.

export interface PluginStatus {
  name: string;
  /** `loaded`, `failed`, ... as the server says it. */
  status: string | null;
  healthy: boolean;
  version: string | null;
  path: string | null;
  /** The domains it runs for; null: every site. */
  sites: string[] | null;
  error: string | null;
  loadedAtMs: number | null;
  /** Numeric fields (calls, events, errors...), in the server's order. */
  counters: [string, number][];
}

const HEALTHY = new Set(["loaded", "ok", "running", "active", "healthy", "ready"]);
const KNOWN = new Set(["name", "status", "state", "version", "path", "file", "sites", "error", "last_error", "loaded_at_ms", "id"]);

const text = (value: unknown): string | null => (typeof value === "string" && value !== "" ? value : null);

export function pluginsOf(answer: unknown): PluginStatus[] {
  const list = Array.isArray(answer) ? answer : Array.isArray((answer as { plugins?: unknown })?.plugins) ? (answer as { plugins: unknown[] }).plugins : [];
  return list
    .filter((item): item is Record<string, unknown> => typeof item === "object" && item !== null)
    .map((item) => {
      const status = text(item.status) ?? text(item.state);
      const counters: [string, number][] = [];
      const numbers = typeof item.counters === "object" && item.counters !== null ? (item.counters as Record<string, unknown>) : item;
      for (const [key, value] of Object.entries(numbers)) {
        if (!KNOWN.has(key) && typeof value === "number" && Number.isFinite(value) && !key.endsWith("_ms")) counters.push([key, value]);
      }
      const sites = Array.isArray(item.sites) ? item.sites.filter((site): site is string => typeof site === "string") : null;
      return {
        name: text(item.name) ?? text(item.id) ?? "?",
        status,
        healthy: status !== null && HEALTHY.has(status.toLowerCase()),
        version: text(item.version),
        path: text(item.path) ?? text(item.file),
        sites: sites && sites.length > 0 ? sites : null,
        error: text(item.error) ?? text(item.last_error),
        loadedAtMs: typeof item.loaded_at_ms === "number" ? item.loaded_at_ms : null,
        counters,
      };
    });
}
