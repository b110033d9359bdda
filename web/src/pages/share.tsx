// A share link's page (/share/<code>): one site's dashboard for someone not signed in. The
// code goes in `X-Hitkeep-Share` on every request; a link with a password is unlocked first
// (POST /api/share/unlock), and the unlocking (`hkv_...`) is kept for this tab and used instead.
import { useEffect, useId, useState } from "preact/hooks";
import { Logo, Preferences } from "../components/layout";
import { ErrorMessage, Spinner } from "../components/status";
import { ApiError, get, post, useShareCode } from "../lib/api";
import { formatDay } from "../lib/format";
import { t } from "../lib/i18n";
import { SessionContext, type Session } from "../lib/session";
import { DashboardPage } from "./dashboard/dashboard";
import "./share.css";

/** `GET /api/share`. */
interface ShareInfo {
  domain: string;
  timezone: string;
  name: string;
  embed: boolean;
  expires_at_ms: number | null;
}

interface Unlocked {
  unlock: string;
  expires_at_ms: number;
  share: ShareInfo;
}

type Phase =
  | { kind: "loading" }
  | { kind: "password"; notice: string | null }
  | { kind: "ready"; info: ShareInfo }
  | { kind: "failed"; message: string | null; error: Error | null };

const storageKey = (code: string) => `hitkeep.share.${code}`;

function storage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

/** The unlocking kept for `code` in this tab, if it has not ended. */
function storedUnlock(code: string, now = Date.now()): string | null {
  const raw = storage()?.getItem(storageKey(code));
  if (!raw) return null;
  try {
    const { unlock, expires_at_ms } = JSON.parse(raw) as { unlock?: string; expires_at_ms?: number };
    if (typeof unlock === "string" && typeof expires_at_ms === "number" && expires_at_ms > now) return unlock;
  } catch {
    // A damaged entry is dropped below.
  }
  storage()?.removeItem(storageKey(code));
  return null;
}

export function SharePage({ code }: { code: string }) {
  const [phase, setPhase] = useState<Phase>({ kind: "loading" });

  const open = async (credential: string, fromStorage: boolean) => {
    useShareCode(credential);
    try {
      const info = await get<ShareInfo>("/api/share");
      setPhase({ kind: "ready", info });
    } catch (error) {
      if (error instanceof ApiError && error.code === "share_password_required") {
        setPhase({ kind: "password", notice: null });
      } else if (error instanceof ApiError && error.code === "share_unlock_expired") {
        storage()?.removeItem(storageKey(code));
        useShareCode(code);
        setPhase({ kind: "password", notice: fromStorage ? t("share.unlock_expired") : null });
      } else if (error instanceof ApiError && error.code === "invalid_share_link") {
        setPhase({ kind: "failed", message: t("share.invalid"), error: null });
      } else if (error instanceof ApiError && error.code === "share_link_expired") {
        setPhase({ kind: "failed", message: t("share.expired"), error: null });
      } else {
        setPhase({ kind: "failed", message: null, error: error instanceof Error ? error : new Error(String(error)) });
      }
    }
  };

  useEffect(() => {
    const unlock = storedUnlock(code);
    void open(unlock ?? code, unlock !== null);
    return () => useShareCode(null);
  }, [code]);

  // An unlocking that ends while the page is open: back to the password.
  useEffect(() => {
    if (phase.kind !== "ready") return;
    const check = setInterval(() => {
      const raw = storage()?.getItem(storageKey(code));
      if (raw && !storedUnlock(code)) {
        useShareCode(code);
        setPhase({ kind: "password", notice: t("share.unlock_expired") });
      }
    }, 30_000);
    return () => clearInterval(check);
  }, [phase.kind, code]);

  if (phase.kind === "loading") return <Spinner />;
  if (phase.kind === "failed") {
    return (
      <ShareFrame name={null}>
        <main class="page narrow share-message">
          {phase.message ? <p role="alert">{phase.message}</p> : null}
          {phase.error ? <ErrorMessage error={phase.error} /> : null}
        </main>
      </ShareFrame>
    );
  }
  if (phase.kind === "password") {
    return (
      <ShareFrame name={null}>
        <PasswordForm
          code={code}
          notice={phase.notice}
          onUnlocked={(unlocked) => {
            storage()?.setItem(storageKey(code), JSON.stringify({ unlock: unlocked.unlock, expires_at_ms: unlocked.expires_at_ms }));
            useShareCode(unlocked.unlock);
            setPhase({ kind: "ready", info: unlocked.share });
          }}
        />
      </ShareFrame>
    );
  }

  const { info } = phase;
  const session: Session = {
    account: null,
    sites: [{ domain: info.domain, timezone: info.timezone, created_at_ms: 0, rules: {}, access: "view" }],
    reloadSites: async () => {},
    share: { code, domain: info.domain },
  };
  const dashboard = (
    <SessionContext.Provider value={session}>
      <DashboardPage domain={info.domain} />
    </SessionContext.Provider>
  );
  // An embedded link (an iframe on someone's page) is the dashboard alone.
  if (info.embed) {
    return (
      <div class="share-embed">
        {dashboard}
        <p class="share-powered muted">{t("share.powered_by")}</p>
      </div>
    );
  }
  return (
    <ShareFrame name={info.name} expires={info.expires_at_ms}>
      {dashboard}
    </ShareFrame>
  );
}

/** The slim frame of a share link: its name, who it is from, the language and theme. */
function ShareFrame({ name, expires, children }: { name: string | null; expires?: number | null; children: preact.ComponentChildren }) {
  return (
    <>
      <header class="topbar share-bar">
        <div class="share-brand">
          <Logo />
          <span class="share-name">{name || t("share.title")}</span>
          <span class="muted share-by">
            {t("share.shared_by")}
            {expires ? ` · ${t("share.expires", { date: formatDay(new Date(expires).toISOString().slice(0, 10)) })}` : ""}
          </span>
        </div>
        <nav class="topbar-nav" aria-label={t("common.main_navigation")}>
          <Preferences />
        </nav>
      </header>
      <div id="main">{children}</div>
    </>
  );
}

function PasswordForm({ code, notice, onUnlocked }: { code: string; notice: string | null; onUnlocked: (unlocked: Unlocked) => void }) {
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(notice);
  const id = useId();
  return (
    <main class="page narrow">
      <form
        class="card share-password"
        onSubmit={async (event) => {
          event.preventDefault();
          setBusy(true);
          setProblem(null);
          // The unlock route wants the code in the body, not a share header.
          useShareCode(null);
          try {
            onUnlocked(await post<Unlocked>("/api/share/unlock", { code, password }));
          } catch (error) {
            useShareCode(code);
            if (error instanceof ApiError && error.code === "invalid_share_password") setProblem(t("share.wrong_password"));
            else if (error instanceof ApiError && error.status === 429) setProblem(t("share.too_many"));
            else if (error instanceof ApiError && error.code === "invalid_share_link") setProblem(t("share.invalid"));
            else if (error instanceof ApiError && error.code === "share_link_expired") setProblem(t("share.expired"));
            else setProblem(error instanceof Error ? error.message : String(error));
          } finally {
            setBusy(false);
          }
        }}
      >
        <h1>{t("share.password_title")}</h1>
        <p class="muted">{t("share.password_intro")}</p>
        <label class="field" for={id}>
          <span>{t("share.password")}</span>
          <input
            id={id}
            type="password"
            autoComplete="current-password"
            required
            value={password}
            autoFocus
            onInput={(event) => setPassword((event.target as HTMLInputElement).value)}
          />
        </label>
        {problem ? (
          <p class="error" role="alert">
            {problem}
          </p>
        ) : null}
        <button type="submit" class="button" disabled={busy || !password}>
          {busy ? t("share.unlocking") : t("share.unlock")}
        </button>
      </form>
    </main>
  );
}
