// The sign-in pages' pure logic: where to go after signing in, how strong a new password
// looks, and which sentence an error code gets.
import { ApiError } from "../../lib/api";
import { t } from "../../lib/i18n";

/** The fewest characters of a new password (the server's `MIN_LEN`). */
export const MIN_PASSWORD_LENGTH = 10;

/**
 * Where to go after signing in: `next` when it is a path of this origin (never another
 * site, a protocol-relative `//host`, or back to a sign-in page), else `/`.
 */
export function safeNext(next: string | null | undefined, origin: string): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  let target: URL;
  try {
    target = new URL(next, origin);
  } catch {
    return "/";
  }
  if (target.origin !== origin) return "/";
  if (["/login", "/setup", "/invite", "/reset"].some((page) => target.pathname === page || target.pathname.startsWith(`${page}/`))) return "/";
  return target.pathname + target.search + target.hash;
}

/** The sign-in page's address that comes back to `path` (`/login?next=...`). */
export function loginPath(path: string): string {
  return path && path !== "/" ? `/login?next=${encodeURIComponent(path)}` : "/login";
}

export type Strength = "too_short" | "is_email" | "weak" | "fair" | "strong";

/**
 * How a new password looks: what the server refuses (`too_short`, `is_email`), then a rough
 * guess from its length and variety (passphrases of several words count as strong).
 */
export function passwordStrength(password: string, email = ""): Strength {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) return "too_short";
  const lower = password.toLowerCase();
  const address = email.trim().toLowerCase();
  const local = address.split("@")[0];
  if (address && (lower === address || lower === local)) return "is_email";
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((pattern) => pattern.test(password)).length;
  const distinct = new Set(lower).size;
  if (distinct <= 3) return "weak";
  const words = password.trim().split(/\s+/).length;
  if (length >= 20 || (length >= 16 && words >= 3) || (length >= 14 && classes >= 3)) return "strong";
  if (length >= 12 || classes >= 3) return "fair";
  return "weak";
}

/** Seconds to wait, from a `too_many_attempts` message (`try again in 8 s`). */
export function waitSeconds(message: string): number | null {
  const found = /(\d+)\s*s\b/.exec(message);
  return found ? Number(found[1]) : null;
}

/** Codes that have a sentence of their own in `auth.json`. */
const KNOWN = new Set([
  "invalid_credentials",
  "too_many_attempts",
  "invalid_setup_code",
  "invalid_invitation",
  "invitation_expired",
  "weak_password",
  "sso_only",
  "invalid_code",
  "code_already_used",
  "challenge_expired",
  "invalid_passkey",
  "ceremony_expired",
  "no_passkey",
  "passkey_exists",
  "invalid_reset_code",
  "email_not_configured",
  "invalid_email",
  "network",
  "factor_exists",
  "no_enrolment",
  "invalid_passkey_name",
  "invalid_token_name",
  "token_exists",
  "cross_site_request",
]);

/** A sentence for an error of the sign-in and account routes, in the current language. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === "too_many_attempts") {
      const wait = waitSeconds(error.message);
      return wait === null ? t("auth.error.too_many_attempts") : t("auth.error.too_many_attempts_wait", { seconds: wait });
    }
    if (KNOWN.has(error.code)) return t(`auth.error.${error.code}`);
    return error.message;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}
