// A site's imported history (`/api/sites/<domain>/imports`): what the API answers, the check
// of a chosen file before it is sent (a Plausible export's zip, or one of its CSV files), the
// words for what an upload stored, and for the API's refusals. The API keeps the final word.
import { ApiError } from "../../lib/api";
import { t } from "../../lib/i18n";

/** The tables of a Plausible CSV export, in the order Plausible lists them. */
export const PLAUSIBLE_TABLES = [
  "visitors",
  "sources",
  "pages",
  "entry_pages",
  "exit_pages",
  "locations",
  "devices",
  "browsers",
  "operating_systems",
  "custom_events",
] as const;
export type PlausibleTable = (typeof PLAUSIBLE_TABLES)[number];

/** The largest upload the API takes (its `import_too_large` above it): 1 GiB. */
export const MAX_UPLOAD_BYTES = 1 << 30;

/** An import, as listed (newest first). */
export interface SiteImport {
  id: number;
  source: string;
  /** `YYYY-MM-DD`. */
  first_day: string;
  last_day: string;
  rows: number;
  created_at_ms: number;
}

/** What an upload stored (`201` of `POST .../imports`). */
export interface ImportResult {
  id: number;
  first_day: string | null;
  last_day: string | null;
  /** Rows stored per Plausible table name (`imported_visitors`). */
  rows: Record<string, number>;
  /** Rows left out because the site has its own events on their days. */
  skipped_native_days: number;
}

const EXPORT_FILE = new RegExp(`^imported_(${PLAUSIBLE_TABLES.join("|")})_(\\d{8})_(\\d{8})\\.csv$`);

/** Whether `yyyymmdd` is a day of the calendar. */
function isDay(yyyymmdd: string): boolean {
  const [year, month, day] = [yyyymmdd.slice(0, 4), yyyymmdd.slice(4, 6), yyyymmdd.slice(6)].map(Number);
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** The table of one of a Plausible export's files (`imported_visitors_20250101_20250331.csv`), or null. */
export function exportFileTable(name: string): PlausibleTable | null {
  const match = EXPORT_FILE.exec(name);
  if (!match || !isDay(match[2]) || !isDay(match[3])) return null;
  return match[1] as PlausibleTable;
}

/** What is wrong with a chosen file, if anything: no file, not an export by its name, empty, too large. */
export type FileProblem = "missing" | "name" | "empty" | "too_large";

/** The problem of the file chosen (`null`: none chosen), or null when it can be sent. */
export function fileProblem(file: { name: string; size: number } | null): FileProblem | null {
  if (!file) return "missing";
  if (!file.name.toLowerCase().endsWith(".zip") && exportFileTable(file.name) === null) return "name";
  if (file.size === 0) return "empty";
  if (file.size > MAX_UPLOAD_BYTES) return "too_large";
  return null;
}

/** The address an upload goes to: the file's name rides along (the API tells a zip from a CSV by it). */
export function uploadPath(sitePath: string, name: string): string {
  return `${sitePath}?${new URLSearchParams({ name }).toString()}`;
}

/** The rows an upload stored, per table in Plausible's order (others after, by name), without empty ones. */
export function rowsPerTable(result: Pick<ImportResult, "rows">): { table: string; rows: number }[] {
  const order = (name: string) => {
    const at = PLAUSIBLE_TABLES.indexOf(name as PlausibleTable);
    return at < 0 ? PLAUSIBLE_TABLES.length : at;
  };
  return Object.entries(result.rows)
    .map(([name, rows]) => ({ table: name.replace(/^imported_/, ""), rows }))
    .filter((entry) => entry.rows > 0)
    .sort((a, b) => order(a.table) - order(b.table) || a.table.localeCompare(b.table));
}

/** A table's name in the reader's language ("visitors" → "Visitors"); its own name if unknown. */
export function tableName(table: string): string {
  return PLAUSIBLE_TABLES.includes(table as PlausibleTable) ? t(`settings.import_table_${table}`) : table;
}

/** What an upload stored, in a sentence: "Rows stored: visitors 31, sources 62, and pages 5." */
export function describeRows(result: Pick<ImportResult, "rows">, lang: string): string {
  const parts = rowsPerTable(result).map(({ table, rows }) => t("settings.import_table_rows", { table: tableName(table), count: rows }));
  if (parts.length === 0) return t("settings.import_nothing");
  return t("settings.import_rows_stored", { list: new Intl.ListFormat(lang, { style: "long", type: "conjunction" }).format(parts) });
}

/** Two days (`YYYY-MM-DD`) as one range, as the settings write dates: "Jan 1 – 31, 2025". */
export function dayRange(first: string, last: string, lang: string): string {
  const day = (text: string) => {
    const [year, month, date] = text.split("-").map(Number);
    return new Date(Date.UTC(year, month - 1, date));
  };
  const format = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeZone: "UTC" });
  return first === last ? format.format(day(first)) : format.formatRange(day(first), day(last));
}

/**
 * What to say next to the file of the API's refusal of an upload (null: not one of those,
 * the form's own error says it): in the reader's words, except an unreadable row, which the
 * server's own message names (file and row).
 */
export function uploadProblem(error: Error | null): string | null {
  if (!(error instanceof ApiError)) return null;
  switch (error.code) {
    case "invalid_takeout":
      return `${error.message} (${error.code})`;
    case "invalid_import":
    case "import_too_large":
      return `${t(`settings.import_error_${error.code}`)} (${error.code})`;
    default:
      return null;
  }
}

/**
 * The form's error, for what is not the file's fault (null when `uploadProblem` says it): one
 * import at a time and a too slow upload in the reader's words, anything else as it came.
 */
export function uploadFailure(error: Error | null): Error | null {
  if (!error || uploadProblem(error) !== null) return null;
  if (error instanceof ApiError && (error.code === "too_many_imports" || error.code === "upload_timeout")) {
    return new ApiError(error.status, error.code, t(`settings.import_error_${error.code}`));
  }
  return error;
}
