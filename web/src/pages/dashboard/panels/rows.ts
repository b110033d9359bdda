// A report's rows as the panel draws them: label, value, the width of the bar behind it and
// the count of rows not shown. Pure, tested in rows.test.ts.
import { metricNumber } from "../../../lib/format";
import type { StatsAnswer } from "../../../lib/stats";

export interface Row {
  /** The dimension's value as the API gave it. */
  value: string | number | null;
  /** The metrics, in the report's order. */
  metrics: unknown[];
  /** The bar's width, in percent of the panel (the biggest row fills it). */
  bar: number;
}

/** The bar of `value` against the biggest value `max`: 0 to 100, never a sliver below 0.5 %. */
export function barWidth(value: number | null, max: number): number {
  if (value === null || !(value > 0) || !(max > 0)) return 0;
  return Math.max(0.5, Math.min(100, (value / max) * 100));
}

/** `part` as a percentage of `whole` (0 when the whole is nothing). */
export function shareOf(part: number, whole: number): number {
  return whole > 0 ? (part / whole) * 100 : 0;
}

/** The rows of an answer, their bars drawn against its first metric's biggest value. */
export function rowsOf(answer: StatsAnswer | null): Row[] {
  if (!answer) return [];
  const firsts = answer.results.map((result) => metricNumber(result.metrics[0]));
  const max = Math.max(0, ...firsts.map((value) => value ?? 0));
  return answer.results.map((result, index) => ({
    value: result.dimensions[0] ?? null,
    metrics: result.metrics,
    bar: barWidth(firsts[index], max),
  }));
}

/** How many rows the breakdown has beyond the ones shown. */
export function moreRows(answer: StatsAnswer | null): number {
  if (!answer) return 0;
  const total = answer.meta.total_rows;
  return typeof total === "number" ? Math.max(0, total - answer.results.length) : 0;
}

/** Whether any row carries a revenue (a money object) in the metric at `index`. */
export function hasMoney(answer: StatsAnswer | null, index: number): boolean {
  return !!answer?.results.some((result) => {
    const value = result.metrics[index];
    return value !== null && typeof value === "object";
  });
}

/**
 * Where a row's external link goes: a page on the site (`https://<domain><page>`), a
 * referrer's page; null for anything else or a value that is no address.
 */
export function externalUrl(kind: string, value: string | number | null, domain: string): string | null {
  if (typeof value !== "string" || value === "") return null;
  if (kind === "page") {
    if (!value.startsWith("/")) return null;
    return `https://${domain}${value}`;
  }
  if (kind === "referrer") {
    if (/^https?:\/\//i.test(value)) return value;
    if (/^[a-z0-9-]+(\.[a-z0-9-]+)+(\/|$)/i.test(value)) return `https://${value}`;
  }
  return null;
}

/** A map country's shade (fill opacity): a square root scale, so small audiences still show. */
export function shadeOf(visitors: number, max: number): number {
  if (!(visitors > 0) || !(max > 0)) return 0;
  return 0.18 + 0.82 * Math.sqrt(Math.min(1, visitors / max));
}
