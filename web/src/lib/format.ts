// Numbers, durations, percentages and dates as the dashboard shows them, in the current
// language (Intl), so a German reader sees "1.234" and "12,5 %".
import { currentLanguage } from "./i18n";

const cache = new Map<string, Intl.NumberFormat>();

function numberFormat(lang: string, options: Intl.NumberFormatOptions): Intl.NumberFormat {
  const key = lang + JSON.stringify(options);
  let format = cache.get(key);
  if (!format) {
    format = new Intl.NumberFormat(lang, options);
    cache.set(key, format);
  }
  return format;
}

/** A count in full: 12,345. */
export function formatNumber(value: number, lang: string = currentLanguage()): string {
  return numberFormat(lang, { maximumFractionDigits: 2 }).format(value);
}

/** A count in short: 12.3k, 1.2M (full below 10,000). */
export function formatCompact(value: number, lang: string = currentLanguage()): string {
  if (Math.abs(value) < 10_000) return formatNumber(value, lang);
  return numberFormat(lang, { notation: "compact", maximumFractionDigits: 1 }).format(value);
}

/** A percentage given in percent: 42 → 42%. */
export function formatPercent(value: number, lang: string = currentLanguage(), digits = 1): string {
  return numberFormat(lang, { style: "percent", maximumFractionDigits: digits }).format(value / 100);
}

const BYTE_UNITS = ["byte", "kilobyte", "megabyte", "gigabyte", "terabyte", "petabyte"];

/** A size in bytes, in decimal units: 512 bytes, 567.9 kB, 1.2 GB (a German reader: 567,9 kB). */
export function formatBytes(bytes: number, lang: string = currentLanguage()): string {
  const value = Math.max(0, bytes);
  let exponent = 0;
  while (exponent < BYTE_UNITS.length - 1 && Math.round((value / 1000 ** exponent) * 10) / 10 >= 1000) exponent += 1;
  const unit = BYTE_UNITS[exponent];
  // Whole bytes in words ("512 bytes": CLDR's short form is "512 byte"), the rest as kB, MB, ...
  return numberFormat(lang, { style: "unit", unit, unitDisplay: exponent === 0 ? "long" : "short", maximumFractionDigits: exponent === 0 ? 0 : 1 }).format(
    value / 1000 ** exponent,
  );
}

/** A duration in seconds: 45s, 3m 05s, 1h 02m. */
export function formatDuration(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const rest = total % 60;
  if (hours > 0) return `${hours}h ${String(minutes).padStart(2, "0")}m`;
  if (minutes > 0) return `${minutes}m ${String(rest).padStart(2, "0")}s`;
  return `${rest}s`;
}

/** Money as the API gives it (`{value, currency, short, long}`), in the current language. */
export interface Money {
  value: number;
  currency: string;
  short?: string;
  long?: string;
}

export function formatMoney(money: Money, lang: string = currentLanguage()): string {
  try {
    return numberFormat(lang, { style: "currency", currency: money.currency }).format(money.value);
  } catch {
    return money.long ?? `${money.value} ${money.currency}`;
  }
}

/** The metrics the dashboard shows, and how each is written. */
export type MetricKind = "count" | "percent" | "duration" | "decimal" | "money";

const KINDS: Record<string, MetricKind> = {
  visitors: "count",
  visits: "count",
  pageviews: "count",
  events: "count",
  views_per_visit: "decimal",
  bounce_rate: "percent",
  conversion_rate: "percent",
  percentage: "percent",
  scroll_depth: "percent",
  visit_duration: "duration",
  time_on_page: "duration",
  total_revenue: "money",
  average_revenue: "money",
};

export function metricKind(metric: string): MetricKind {
  return KINDS[metric] ?? "count";
}

/** A metric's value as shown in a table or a card (`—` for none). */
export function formatMetric(metric: string, value: unknown, options: { compact?: boolean } = {}): string {
  if (value === null || value === undefined) return "—";
  if (typeof value === "object") return formatMoney(value as Money);
  const number = Number(value);
  if (!Number.isFinite(number)) return "—";
  switch (metricKind(metric)) {
    case "percent":
      return formatPercent(number);
    case "duration":
      return formatDuration(number);
    case "decimal":
      return numberFormat(currentLanguage(), { maximumFractionDigits: 2 }).format(number);
    default:
      return options.compact ? formatCompact(number) : formatNumber(number);
  }
}

/** A metric's value as a plain number (money by its value), for charts. */
export function metricNumber(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "object") return (value as Money).value ?? null;
  const number = Number(value);
  return Number.isFinite(number) ? number : null;
}

/** A date (`YYYY-MM-DD`) in the reader's language: 7 Dec 2026. */
export function formatDay(day: string, lang: string = currentLanguage(), withYear = true): string {
  const [year, month, date] = day.split("-").map(Number);
  const value = new Date(Date.UTC(year, month - 1, date));
  return new Intl.DateTimeFormat(lang, {
    day: "numeric",
    month: "short",
    year: withYear ? "numeric" : undefined,
    timeZone: "UTC",
  }).format(value);
}
