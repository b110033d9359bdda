// The dashboard's stats queries: one typed request (`POST /api/sites/{domain}/stats`, the
// Stats API v2 language) per report, built from the dashboard state, and one hook that runs
// it, cancels it when the view changes and keeps the last answer while the next loads.
import { useEffect, useState } from "preact/hooks";
import { post, sitePath } from "./api";
import { apiFilters, comparisonOf, dateRange, type DashboardState } from "./dashboard-state";

export interface StatsQuery {
  metrics: string[];
  date_range: string | [string, string];
  dimensions?: string[];
  filters?: unknown[];
  order_by?: [string, "asc" | "desc"][];
  include?: {
    time_labels?: boolean;
    total_rows?: boolean;
    comparisons?: { mode: string; date_range?: [string, string] };
    /** Add the site's imported history (a Plausible export) where it can answer. */
    imports?: boolean;
  };
  pagination?: { limit: number; offset?: number };
}

export interface StatsRow {
  dimensions: (string | number | null)[];
  metrics: unknown[];
  comparison?: { dimensions: unknown[]; metrics: unknown[]; change: (number | null)[] };
}

export interface StatsAnswer {
  results: StatsRow[];
  meta: { time_labels?: string[]; total_rows?: number; [key: string]: unknown };
  query: Record<string, unknown> & { date_range?: [string, string] };
}

/** The range and filters every report of a view shares. */
export function baseQuery(state: DashboardState, today: string): Pick<StatsQuery, "date_range" | "filters"> {
  return { date_range: dateRange(state, today), filters: apiFilters(state.filters) };
}

/** A breakdown of `dimension` (a panel's rows), biggest first. */
export function breakdownQuery(
  state: DashboardState,
  today: string,
  dimension: string,
  metrics: string[],
  limit = 9,
): StatsQuery {
  return {
    ...baseQuery(state, today),
    metrics,
    dimensions: [dimension],
    order_by: [[metrics[0], "desc"]],
    include: { total_rows: true, imports: true },
    pagination: { limit },
  };
}

/** The top stats, with the comparison if one is chosen. */
export function topStatsQuery(state: DashboardState, today: string, metrics: string[]): StatsQuery {
  const comparisons = comparisonOf(state);
  return { ...baseQuery(state, today), metrics, include: comparisons ? { comparisons, imports: true } : { imports: true } };
}

export function runStats(domain: string, query: StatsQuery, signal?: AbortSignal): Promise<StatsAnswer> {
  return post<StatsAnswer>(sitePath(domain, "/stats"), query, signal);
}

export interface Loaded<T> {
  data: T | null;
  error: Error | null;
  loading: boolean;
}

/**
 * Runs `load` whenever `key` changes (the request as JSON, say), aborting the one before;
 * the previous answer stays in `data` while the next loads, so panels do not flicker.
 * A `null` key loads nothing.
 */
export function useLoad<T>(key: string | null, load: (signal: AbortSignal) => Promise<T>, refresh = 0): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({ data: null, error: null, loading: key !== null });
  useEffect(() => {
    if (key === null) {
      setState({ data: null, error: null, loading: false });
      return;
    }
    const controller = new AbortController();
    setState((before) => ({ ...before, loading: true }));
    load(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ data, error: null, loading: false });
      },
      (error: unknown) => {
        if (controller.signal.aborted) return;
        setState((before) => ({ data: before.data, error: error instanceof Error ? error : new Error(String(error)), loading: false }));
      },
    );
    return () => controller.abort();
    // `load` is a new closure each render; the key says when it asks something else.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, refresh]);
  return state;
}

/** Runs a stats query of `domain` whenever it changes. */
export function useStats(domain: string, query: StatsQuery | null, refresh = 0): Loaded<StatsAnswer> {
  const key = query ? `${domain}\n${JSON.stringify(query)}` : null;
  return useLoad(key, (signal) => runStats(domain, query as StatsQuery, signal), refresh);
}

/** Downloads a query's rows as CSV (the same query, `stats.csv`). */
export async function downloadCsv(domain: string, query: StatsQuery, filename: string, headers: Record<string, string>): Promise<void> {
  const response = await fetch(sitePath(domain, "/stats.csv"), {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ ...query, pagination: { limit: 10_000 } }),
    credentials: "same-origin",
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
