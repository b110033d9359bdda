// A site's data leaving it: the takeout's download address, `GET /api/sites/<domain>/export`
// (docs/takeout.md), which the browser downloads itself (a link, not a fetch) so that any size
// streams to disk; and how long its events are kept.
import { sitePath } from "../../lib/api";

export const EXPORT_FORMATS = ["parquet", "csv", "json", "ndjson"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The download address for `format`, from `from` to `to` (inclusive days, either empty: open). */
export function exportUrl(domain: string, format: ExportFormat, from: string, to: string): string {
  const params = new URLSearchParams({ format });
  const start = DATE.test(from) ? from : "";
  const end = DATE.test(to) ? to : "";
  if (start || end) params.set("date_range", `${start || "1970-01-01"},${end || "9999-12-31"}`);
  return `${sitePath(domain, "/export")}?${params.toString()}`;
}

/** Whether the range can be asked for: open, or its start not after its end. */
export function validRange(from: string, to: string): boolean {
  return !(DATE.test(from) && DATE.test(to)) || from <= to;
}

/** The retentions offered, in days ("default": the instance's; "0": for ever). */
const RETENTIONS = ["default", "0", "30", "90", "180", "365", "730", "1095", "1825"];

/** The select's value for a site's `retention_days`. */
export function retentionChoice(days: number | null | undefined): string {
  return days === null || days === undefined ? "default" : String(days);
}

/** The choices offered, with the site's own if it is another number of days. */
export function retentionChoices(days: number | null | undefined): string[] {
  const current = retentionChoice(days);
  if (RETENTIONS.includes(current)) return RETENTIONS;
  return [...RETENTIONS, current].sort((a, b) => (a === "default" ? -1 : b === "default" ? 1 : Number(a) - Number(b)));
}

/** The API's `retention_days` for a choice. */
export function retentionDays(choice: string): number | null {
  return choice === "default" ? null : Number(choice);
}
