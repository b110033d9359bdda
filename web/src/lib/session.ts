// Who is using the app: a signed-in person (their account and sites), or a share link's
// visitor (one site, read-only). Loaded once at start; pages read it from `useSession`.
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import { ApiError, get, type Account, type Site } from "./api";

export interface Session {
  /** The person signed in; null for a share link's visitor. */
  account: Account | null;
  /** The sites they may see. */
  sites: Site[];
  /** Loads the sites again (after adding or removing one). */
  reloadSites: () => Promise<void>;
  /** Set when the app runs under a share link. */
  share: { code: string; domain: string } | null;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside the app");
  return session;
}

/** What the app needs before it draws anything for a person, or where to send them instead. */
export type Start =
  | { kind: "signed_in"; account: Account; sites: Site[] }
  | { kind: "sign_in" }
  | { kind: "setup_required" };

export async function start(): Promise<Start> {
  try {
    const [account, sites] = await Promise.all([get<Account>("/api/account"), get<Site[]>("/api/sites")]);
    return { kind: "signed_in", account, sites };
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      const status = await get<{ setup_required: boolean }>("/api/auth/status");
      return status.setup_required ? { kind: "setup_required" } : { kind: "sign_in" };
    }
    if (error instanceof ApiError && error.status === 403 && error.code === "second_factor_required") {
      // Only their account answers until they set up a second factor: the app shows it
      // (app.tsx keeps them on /account) with no sites.
      return { kind: "signed_in", account: await get<Account>("/api/account"), sites: [] };
    }
    throw error;
  }
}

/** Whether `access` (a site's `access`) allows at least `needed`. */
export function allows(access: string | undefined, needed: "view" | "read" | "write" | "manage" | "own"): boolean {
  const order = ["view", "read", "write", "manage", "own"];
  return order.indexOf(access ?? "") >= order.indexOf(needed);
}
