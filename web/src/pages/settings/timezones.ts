// Time zones for the site forms: every IANA zone the browser knows, each with its offset now.

/** Every IANA time zone the browser knows, with `UTC` and `fallback` (a site's current zone) among them. */
export function timeZones(fallback?: string): string[] {
  let zones: string[] = [];
  try {
    zones = (Intl as unknown as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf?.("timeZone") ?? [];
  } catch {
    zones = [];
  }
  const all = new Set(zones);
  all.add("UTC");
  if (fallback) all.add(fallback);
  return [...all].sort((a, b) => (a === "UTC" ? -1 : b === "UTC" ? 1 : a.localeCompare(b)));
}

/** The browser's own time zone, or UTC. */
export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

/** `zone`'s offset from UTC at `at`: `UTC+05:30`, `UTC−03:00`, `UTC`. */
export function zoneOffset(zone: string, at: Date = new Date()): string {
  let name = "";
  try {
    const parts = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "longOffset" }).formatToParts(at);
    name = parts.find((part) => part.type === "timeZoneName")?.value ?? "";
  } catch {
    return "";
  }
  // "GMT+05:30", "GMT-03:00" or "GMT".
  const match = /^GMT([+-−])(\d{1,2})(?::?(\d{2}))?$/.exec(name);
  if (!match) return "UTC";
  if (Number(match[2]) === 0 && Number(match[3] ?? 0) === 0) return "UTC";
  const sign = match[1] === "+" ? "+" : "−";
  return `UTC${sign}${match[2].padStart(2, "0")}:${match[3] ?? "00"}`;
}

/** A zone as an option's text: `Europe/Berlin (UTC+01:00)`, underscores as spaces. */
export function zoneLabel(zone: string, at: Date = new Date()): string {
  const offset = zoneOffset(zone, at);
  const name = zone.replace(/_/g, " ");
  return offset && zone !== "UTC" ? `${name} (${offset})` : name;
}
