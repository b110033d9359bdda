// What `GET /api/auth/status` says before anyone signs in.
import { get } from "../../lib/api";
import { useLoad, type Loaded } from "../../lib/stats";

export interface AuthStatus {
  /** No account yet: the printed setup link creates the owner. */
  setup_required: boolean;
  /** The instance sends e-mail ("forgot your password?" works). */
  email_enabled: boolean;
  /** The single sign-on provider's name, if any (`/login/oidc` starts it). */
  oidc: string | null;
  /** Password sign-in works (not with single sign-on only). */
  password_sign_in: boolean;
}

export function useAuthStatus(): Loaded<AuthStatus> {
  return useLoad("status", (signal) => get<AuthStatus>("/api/auth/status", signal));
}

/** The route that starts single sign-on (routes/sso.rs). */
export const SSO_PATH = "/login/oidc";

/** A sign-in page can hand a notice to the next (after a reset: "sign in with it"). */
let notice: { key: string; email?: string } | null = null;

export function leaveNotice(next: { key: string; email?: string }): void {
  notice = next;
}

export function takeNotice(): { key: string; email?: string } | null {
  const taken = notice;
  notice = null;
  return taken;
}
