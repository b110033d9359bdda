// Sessions: where the person is signed in, this one marked; end one, or all but this one.
import { useState } from "preact/hooks";
import { ErrorMessage, Spinner } from "../../components/status";
import { del, get } from "../../lib/api";
import { t } from "../../lib/i18n";
import { useLoad } from "../../lib/stats";
import { errorText } from "../auth/logic";
import { formatDate, methodParts } from "./logic";

interface SessionView {
  id: number;
  method: string;
  client: string;
  created_at_ms: number;
  last_seen_at_ms: number;
  expires_at_ms: number;
  current: boolean;
}

const METHODS = new Set(["password", "totp", "recovery_code", "passkey", "setup", "invitation", "demo", "oidc"]);

function methodText(method: string): string {
  return methodParts(method)
    .map((part) => (METHODS.has(part) ? t(`account.method.${part}`) : part))
    .join(" + ");
}

export function SessionsCard() {
  const [refresh, setRefresh] = useState(0);
  const sessions = useLoad("sessions", (signal) => get<SessionView[]>("/api/account/sessions", signal), refresh);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const reload = () => setRefresh((count) => count + 1);
  const run = async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
      reload();
    } catch (failure) {
      setError(errorText(failure));
    }
    setBusy(false);
  };
  const list = sessions.data ? [...sessions.data].sort((a, b) => Number(b.current) - Number(a.current) || b.last_seen_at_ms - a.last_seen_at_ms) : [];
  const others = list.filter((session) => !session.current).length;
  return (
    <section class="card account-wide" aria-labelledby="sessions-title">
      <div class="card-head">
        <h2 id="sessions-title">{t("account.sessions")}</h2>
        {others ? (
          <button type="button" class="button secondary small" disabled={busy} onClick={() => run(() => del("/api/account/sessions/others"))}>
            {t("account.end_other_sessions")}
          </button>
        ) : null}
      </div>
      {sessions.error && !sessions.data ? <ErrorMessage error={sessions.error} /> : null}
      {!sessions.data && !sessions.error ? <Spinner /> : null}
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      {sessions.data ? (
        <div class="table-scroll">
          <table class="data sessions-table">
            <thead>
              <tr>
                <th scope="col">{t("account.session_client")}</th>
                <th scope="col">{t("account.session_method")}</th>
                <th scope="col">{t("account.session_opened")}</th>
                <th scope="col">{t("account.session_last_seen")}</th>
                <th scope="col">
                  <span class="visually-hidden">{t("account.actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((session) => (
                <tr key={session.id} class={session.current ? "current" : undefined}>
                  <td data-label={t("account.session_client")}>
                    {session.client || t("account.unknown_client")}
                    {session.current ? <span class="badge accent">{t("account.this_session")}</span> : null}
                  </td>
                  <td data-label={t("account.session_method")}>{methodText(session.method)}</td>
                  <td data-label={t("account.session_opened")}>{formatDate(session.created_at_ms)}</td>
                  <td data-label={t("account.session_last_seen")}>{formatDate(session.last_seen_at_ms)}</td>
                  <td class="number">
                    {session.current ? null : (
                      <button type="button" class="button secondary small" disabled={busy} onClick={() => run(() => del(`/api/account/sessions/${session.id}`))}>
                        {t("account.end_session")}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
