// Checks done in the browser before a form is sent, mirroring the API's own rules, so most
// mistakes are named next to their field at once; the API's answer stays the final word.

/** Why a domain is refused (a key of the `sites` translations: `sites.domain_<reason>`). */
export type DomainProblem = "empty" | "too_long" | "label_length" | "label_hyphen" | "characters";

/**
 * The bare host name of what was typed (`https://www.Example.com/blog` → `www.example.com`):
 * the scheme, path, port and trailing dot dropped, lowercased, as the API stores it.
 */
export function cleanDomain(typed: string): string {
  let domain = typed.trim().toLowerCase();
  domain = domain.replace(/^[a-z][a-z0-9+.-]*:\/\//, "");
  domain = domain.replace(/[/?#].*$/, "");
  domain = domain.replace(/:\d*$/, "");
  return domain.replace(/\.+$/, "");
}

/** What is wrong with a (cleaned) domain, or null: the API's `normalize_domain` rules. */
export function domainProblem(domain: string): DomainProblem | null {
  if (domain === "") return "empty";
  if (domain.length > 253) return "too_long";
  for (const label of domain.split(".")) {
    if (label.length === 0 || label.length > 63) return "label_length";
    if (label.startsWith("-") || label.endsWith("-")) return "label_hyphen";
    if (!/^[a-z0-9_-]+$/i.test(label)) return "characters";
  }
  return null;
}

/** The entries of a list typed one per line (or separated by commas): trimmed, no blanks, no repeats. */
export function linesOf(text: string): string[] {
  const seen = new Set<string>();
  for (const part of text.split(/[\n,]/)) {
    const entry = part.trim();
    if (entry) seen.add(entry);
  }
  return [...seen];
}

function isIpv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 && parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255);
}

function isIpv6(text: string): boolean {
  if (!/^[0-9a-f:.]+$/i.test(text) || !text.includes(":")) return false;
  const halves = text.split("::");
  if (halves.length > 2) return false;
  const groups = halves.flatMap((half) => (half === "" ? [] : half.split(":")));
  let count = 0;
  for (const [index, group] of groups.entries()) {
    if (index === groups.length - 1 && group.includes(".")) {
      if (!isIpv4(group)) return false;
      count += 2;
    } else if (/^[0-9a-f]{1,4}$/i.test(group)) {
      count += 1;
    } else {
      return false;
    }
  }
  return halves.length === 2 ? count < 8 : count === 8;
}

/** Whether `text` is an IP address or a CIDR range (`203.0.113.7`, `10.0.0.0/8`, `2001:db8::/32`). */
export function isIpRange(text: string): boolean {
  const [address, prefix, ...rest] = text.split("/");
  if (rest.length > 0) return false;
  const v4 = isIpv4(address);
  if (!v4 && !isIpv6(address)) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (v4 ? 32 : 128);
}

/** Whether `text` is a page path pattern the API takes (it starts with `/`). */
export function isPathPattern(text: string): boolean {
  return text.startsWith("/") && text.length <= 2000 && !/\s/.test(text);
}

/** Whether `text` is a host name pattern (`example.com`, `*.example.com`), not a URL. */
export function isHostnamePattern(text: string): boolean {
  return /^[a-z0-9*_.-]+$/i.test(text) && !text.startsWith(".") && text.length <= 253;
}

/** The entries of a list that a check refuses. */
export function invalidEntries(entries: readonly string[], check: (entry: string) => boolean): string[] {
  return entries.filter((entry) => !check(entry));
}

/** The rule list an `invalid_rule` answer is about (its message names the field). */
export function ruleFieldOf(message: string): "excluded_ip_ranges" | "excluded_paths" | "allowed_hostnames" | null {
  for (const field of ["excluded_ip_ranges", "excluded_paths", "allowed_hostnames"] as const) {
    if (message.includes(field)) return field;
  }
  return null;
}

/** Whether `text` is a share link's or token's name: 1 to 64 letters, digits, `.`, `_` or `-`. */
export function isSlugName(text: string): boolean {
  return /^[A-Za-z0-9._-]{1,64}$/.test(text);
}

/** Whether `text` looks like an e-mail address (the server has the final word). */
export function isEmail(text: string): boolean {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(text.trim());
}

/** A whole number in `min..=max` typed in a field, or null. */
export function wholeNumber(text: string, min: number, max: number): number | null {
  if (!/^\s*\d+\s*$/.test(text)) return null;
  const value = Number(text);
  return value >= min && value <= max ? value : null;
}
