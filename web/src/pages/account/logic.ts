// The account page's pure logic: dates, the recovery codes' file, token names, and how a
// session and the QR code are shown.
import { currentLanguage } from "../../lib/i18n";

/** A moment (ms since the epoch) as a date and time in the current language. */
export function formatDate(ms: number, lang: string = currentLanguage(), timeZone?: string): string {
  return new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short", timeZone }).format(new Date(ms));
}

/** The text file of recovery codes: what they are, for which account, then one a line. */
export function recoveryCodesFile(codes: string[], email: string, origin: string, when: Date): string {
  return [
    `Hitkeep recovery codes for ${email} at ${origin}`,
    `Made ${when.toISOString().slice(0, 10)}. Each code signs in once, instead of an authenticator code.`,
    "",
    ...codes,
    "",
  ].join("\n");
}

/** The TOTP key in groups of four, easier to type into an app. */
export function groupKey(secret: string): string {
  return secret.replace(/\s+/g, "").replace(/(.{4})(?=.)/g, "$1 ");
}

/** The server's rule for token names: 1 to 64 letters, digits, `.`, `_` or `-`. */
export function validTokenName(name: string): boolean {
  return /^[A-Za-z0-9._-]{1,64}$/.test(name);
}

/**
 * The QR code (an SVG document the server drew) as an image address: shown as an <img>,
 * its markup is never part of the page, so nothing in it can run or style the page, and the
 * content security policy's `img-src data:` allows it.
 */
export function svgImage(svg: string): string {
  const bytes = new TextEncoder().encode(svg);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return `data:image/svg+xml;base64,${btoa(binary)}`;
}

/** The parts of a session's method (`password+totp` → `["password", "totp"]`). */
export function methodParts(method: string): string[] {
  return method.split("+").filter(Boolean);
}
