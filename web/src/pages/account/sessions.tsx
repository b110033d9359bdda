// Sessions: where the person is signed in, this one marked; end one, or all but this one.
import { useState } from "preact/hooks";
import { ErrorMessage, Spinner } from "../../components/status";
import { del, get } from "../../lib/api";
import { t } from "../../lib/i18n";
import { useLoad } from "../../lib/stats";
import { FormAlert } from "../../components/fields";
import { useSubmit } from "../auth/submit";
import { formatDate, methodParts } from "./logic";
import { CardTable } from "./parts";

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
  const submission = useSubmit();
  const { busy, error } = submission;
  const reload = () => setRefresh((count) => count + 1);
  const run = (action: () => Promise<unknown>) =>
    submission.run(
      async () => {
        await action();
        reload();
      },
      { settle: true },
    );
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
      <FormAlert error={error} />
      {sessions.data ? (
        <CardTable
          class="sessions-table"
          columns={[t("account.session_client"), t("account.session_method"), t("account.session_opened"), t("account.session_last_seen")]}
          rows={list}
          rowKey={(session) => session.id}
          rowClass={(session) => (session.current ? "current" : undefined)}
          cells={(session) => [
            <>
              {session.client || t("account.unknown_client")}
              {session.current ? <span class="badge accent">{t("account.this_session")}</span> : null}
            </>,
            methodText(session.method),
            formatDate(session.created_at_ms),
            formatDate(session.last_seen_at_ms),
          ]}
          action={(session) =>
            session.current ? null : (
              <button type="button" class="button secondary small" disabled={busy} onClick={() => run(() => del(`/api/account/sessions/${session.id}`))}>
                {t("account.end_session")}
              </button>
            )
          }
        />
      ) : null}
    </section>
  );
}
