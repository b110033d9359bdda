// Countries as the dashboard shows them: a flag from the ISO alpha-2 code the API answers,
// the name in the reader's language (Intl.DisplayNames), and the alpha-2 code of a map
// feature's ISO numeric id (world-atlas).
import { NUMERIC_ALPHA2 } from "./countries-numeric";

/** The flag emoji of a two-letter country code (regional indicator symbols), or "" for none. */
export function flagEmoji(code: string | null | undefined): string {
  if (!code || !/^[A-Za-z]{2}$/.test(code)) return "";
  const upper = code.toUpperCase();
  return String.fromCodePoint(...[...upper].map((char) => 0x1f1e6 + char.charCodeAt(0) - 65));
}

const names = new Map<string, Intl.DisplayNames | null>();

/** A country's name in `lang` (`DE` → "Germany", "Deutschland"), or the code if unknown. */
export function countryName(code: string, lang: string): string {
  if (!/^[A-Za-z]{2}$/.test(code)) return code;
  let display = names.get(lang);
  if (display === undefined) {
    try {
      display = new Intl.DisplayNames([lang], { type: "region" });
    } catch {
      display = null;
    }
    names.set(lang, display);
  }
  try {
    return display?.of(code.toUpperCase()) ?? code;
  } catch {
    return code;
  }
}

let table: Map<string, string> | null = null;

/** The alpha-2 code of an ISO 3166-1 numeric code (`"276"` or `276` → `"DE"`), or null. */
export function alpha2OfNumeric(numeric: string | number | undefined | null): string | null {
  if (numeric === undefined || numeric === null || numeric === "") return null;
  if (!table) {
    table = new Map();
    for (let at = 0; at + 5 <= NUMERIC_ALPHA2.length; at += 5) {
      table.set(NUMERIC_ALPHA2.slice(at, at + 3), NUMERIC_ALPHA2.slice(at + 3, at + 5));
    }
  }
  const key = String(numeric).padStart(3, "0");
  return table.get(key) ?? null;
}
