// "3 minutes ago" in the reader's language, for the newest event of a site.

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["day", 86_400_000],
  ["hour", 3_600_000],
  ["minute", 60_000],
  ["second", 1000],
];

/** How long before `now` the moment `ms` was, in the largest whole unit (seconds at least). */
export function timeAgo(ms: number, now: number, lang: string): string {
  const elapsed = Math.max(0, now - ms);
  const format = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
  for (const [unit, size] of UNITS) {
    if (elapsed >= size || unit === "second") return format.format(-Math.floor(elapsed / size), unit);
  }
  return format.format(0, "second");
}
