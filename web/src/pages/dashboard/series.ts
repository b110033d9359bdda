// The main graph's data: the buckets the API labels (in the site's time zone), a value for
// each (empty buckets are 0 for counts and "none" for averages, buckets still to come are
// none), the comparison aligned bucket by bucket, and which bucket is still running.
import type { Interval } from "../../lib/dashboard-state";
import { metricNumber } from "../../lib/format";
import type { StatsAnswer } from "../../lib/stats";

/** Metrics that are averages or rates: an empty bucket has none, not zero. */
const AVERAGES = new Set(["views_per_visit", "bounce_rate", "visit_duration", "conversion_rate", "time_on_page", "scroll_depth", "average_revenue"]);

export interface GraphSeries {
  /** Each bucket's label: `2026-12-07` (days, weeks, months) or `2026-12-07 14:00:00`. */
  labels: string[];
  /** The metric per bucket; null where there is none (an empty average, the future). */
  values: (number | null)[];
  /** The comparison's bucket of the same position, and its value. */
  compareLabels: (string | null)[] | null;
  compareValues: (number | null)[] | null;
  /** The bucket that is still running (drawn dashed), if the range reaches now. */
  current: number | null;
}

export interface SeriesInput {
  metric: string;
  current: StatsAnswer;
  comparison?: StatsAnswer | null;
  /** Now in the site's zone, as `YYYY-MM-DD HH:MM:SS`: buckets after it are the future. */
  now: string;
  /** Whether the range reaches now (ends today, or realtime): its last started bucket runs. */
  live: boolean;
  /** Leave out the empty buckets before the first one with data (all time starts in 2000). */
  trimLeading?: boolean;
}

/** The values of an answer's rows, by their bucket's label. */
function byLabel(answer: StatsAnswer): Map<string, number | null> {
  const values = new Map<string, number | null>();
  for (const row of answer.results) {
    const label = row.dimensions[0];
    if (typeof label === "string") values.set(label, metricNumber(row.metrics[0]));
  }
  return values;
}

/** Every label of an answer: its `time_labels`, or its rows' buckets when it has none. */
function labelsOf(answer: StatsAnswer): string[] {
  const labels = answer.meta.time_labels;
  if (labels && labels.length > 0) return [...labels];
  return answer.results.map((row) => String(row.dimensions[0])).sort();
}

function fill(labels: string[], values: Map<string, number | null>, empty: number | null): (number | null)[] {
  return labels.map((label) => (values.has(label) ? (values.get(label) ?? empty) : empty));
}

export function buildSeries(input: SeriesInput): GraphSeries {
  const empty = AVERAGES.has(input.metric) ? null : 0;
  let labels = labelsOf(input.current);
  const own = byLabel(input.current);
  let compareLabels: string[] | null = input.comparison ? labelsOf(input.comparison) : null;
  const other = input.comparison ? byLabel(input.comparison) : null;

  if (input.trimLeading) {
    const first = labels.findIndex((label) => own.has(label) && (own.get(label) ?? 0) !== 0);
    const start = first < 0 ? Math.max(0, labels.length - 1) : first;
    labels = labels.slice(start);
    if (compareLabels) compareLabels = compareLabels.slice(start);
  }

  const values = fill(labels, own, empty);
  // Buckets that start after now have no value yet; the last one that started is running
  // if the range goes on past now.
  let current: number | null = null;
  for (let index = 0; index < labels.length; index += 1) {
    if (labels[index] > input.now) values[index] = null;
    else current = index;
  }
  if (!input.live) current = null;

  let compareValues: (number | null)[] | null = null;
  let alignedLabels: (string | null)[] | null = null;
  if (compareLabels && other) {
    alignedLabels = labels.map((_, index) => compareLabels?.[index] ?? null);
    compareValues = alignedLabels.map((label) => (label === null ? null : other.has(label) ? (other.get(label) ?? empty) : empty));
  }
  return { labels, values, compareLabels: alignedLabels, compareValues, current };
}

/** Now in `timeZone`, as the API writes bucket labels: `2026-12-07 14:05:09`. */
export function nowIn(timeZone: string, at: Date = new Date()): string {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  }).formatToParts(at);
  const get = (type: string) => parts.find((part) => part.type === type)?.value ?? "00";
  return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}:${get("second")}`;
}

function labelDate(label: string): Date {
  return new Date(`${label.length === 10 ? `${label}T00:00:00` : label.replace(" ", "T")}Z`);
}

/** A bucket's label in the reader's language, for the hover legend and the table. */
export function formatBucket(label: string, interval: Interval, lang: string): string {
  const date = labelDate(label);
  const options: Intl.DateTimeFormatOptions = { timeZone: "UTC" };
  switch (interval) {
    case "minute":
    case "hour":
      Object.assign(options, { weekday: "short", day: "numeric", month: "short", hour: "numeric", minute: "2-digit" });
      break;
    case "day":
      Object.assign(options, { weekday: "short", day: "numeric", month: "short", year: "numeric" });
      break;
    case "week":
      Object.assign(options, { day: "numeric", month: "short", year: "numeric" });
      break;
    case "month":
      Object.assign(options, { month: "long", year: "numeric" });
      break;
  }
  return new Intl.DateTimeFormat(lang, options).format(date);
}

/** A bucket's label on the x axis: short. */
export function formatTick(label: string, interval: Interval, lang: string): string {
  const date = labelDate(label);
  const options: Intl.DateTimeFormatOptions = { timeZone: "UTC" };
  if (interval === "minute" || interval === "hour") Object.assign(options, { hour: "numeric", minute: "2-digit" });
  else if (interval === "month") Object.assign(options, { month: "short", year: "numeric" });
  else Object.assign(options, { day: "numeric", month: "short" });
  return new Intl.DateTimeFormat(lang, options).format(date);
}

/** At most `count` evenly spaced bucket positions for the x axis' ticks, the first included. */
export function tickPositions(length: number, count: number): number[] {
  if (length <= 0) return [];
  const step = Math.max(1, Math.ceil(length / Math.max(1, count)));
  const positions: number[] = [];
  for (let index = 0; index < length; index += step) positions.push(index);
  return positions;
}

/**
 * The graph's two lines of the current period: the settled part (solid) and, from the last
 * settled bucket to the running one, the part still changing (dashed).
 */
export function splitCurrent(values: (number | null)[], current: number | null): { settled: (number | null)[]; running: (number | null)[] } {
  if (current === null || current === 0) {
    return { settled: values, running: values.map(() => null) };
  }
  const settled = values.map((value, index) => (index < current ? value : null));
  const running = values.map((value, index) => (index === current || index === current - 1 ? value : null));
  return { settled, running };
}
