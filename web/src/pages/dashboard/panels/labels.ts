// A row's label as words: a country's name in the reader's language, a version after its
// parent (`Chrome 120`), a value as the API gave it otherwise.
import { countryName, flagEmoji } from "./countries";
import type { ReportDef } from "./catalogue";

export function rowLabel(report: Pick<ReportDef, "label" | "prefix">, value: string | number | null, lang: string): string {
  const text = value === null ? "(not set)" : String(value);
  if (report.label === "country") return /^[A-Za-z]{2}$/.test(text) ? countryName(text, lang) : text;
  if (report.label === "version" && report.prefix) return `${report.prefix} ${text}`;
  return text;
}

/** The flag drawn before a country's row, "" for other rows. */
export function rowFlag(report: Pick<ReportDef, "label">, value: string | number | null): string {
  return report.label === "country" && typeof value === "string" ? flagEmoji(value) : "";
}
