// API tokens: the person's own tokens that reach this site, for programs (the Stats API,
// server-side events). Made for this site only, shown once, revoked here.
import { useState } from "preact/hooks";
import { ErrorMessage, Spinner } from "../../components/status";
import { del, get, post } from "../../lib/api";
import { currentLanguage, t } from "../../lib/i18n";
import { useLoad } from "../../lib/stats";
import { apiFieldError, ConfirmDialog, CopyBlock, FieldError, FormError, formatWhen, Result, SectionHead, Submit, useAction } from "./forms";
import { statsCurl } from "./snippet";
import type { SectionProps } from "./types";
import { isSlugName, wholeNumber } from "./validate";

interface Token {
  name: string;
  scope: string;
  sites: string[] | null;
  created_at_ms: number;
  expires_at_ms: number | null;
  last_used_at_ms: number | null;
  secret?: string;
}

const MAX_EXPIRY_DAYS = 3650;

/** Whether a token reaches `domain` (listed, or every site). */
export function reaches(token: Pick<Token, "sites">, domain: string): boolean {
  return token.sites === null || token.sites.includes(domain);
}

export function TokensSection({ site }: SectionProps) {
  const [refresh, setRefresh] = useState(0);
  const tokens = useLoad(`tokens`, (signal) => get<Token[]>("/api/tokens", signal), refresh);
  const [revoking, setRevoking] = useState<Token | null>(null);
  const mine = (tokens.data ?? []).filter((token) => reaches(token, site.domain));
  const lang = currentLanguage();
  return (
    <>
      <SectionHead title={t("settings.section_tokens")} intro={t("settings.tokens_intro")} />
      <div class="card settings-card">
        <h3>{t("settings.tokens_list")}</h3>
        {tokens.error ? <ErrorMessage error={tokens.error} /> : null}
        {!tokens.data && tokens.loading ? <Spinner /> : null}
        {tokens.data && mine.length === 0 ? <p class="muted">{t("settings.tokens_none")}</p> : null}
        {mine.length > 0 ? (
          <ul class="item-list">
            {mine.map((token) => (
              <li key={token.name}>
                <div class="item-main">
                  <strong>{token.name}</strong>
                  <span class="item-detail">
                    <span class="badge accent">{t(`settings.scope_${token.scope}`)}</span>
                    <span class="badge">{token.sites === null ? t("settings.token_all_sites") : t("settings.token_sites", { count: token.sites.length })}</span>
                    <span class="muted small">
                      {t("settings.created_on", { when: formatWhen(token.created_at_ms, lang) })}
                      {" · "}
                      {token.last_used_at_ms ? t("settings.last_used", { when: formatWhen(token.last_used_at_ms, lang) }) : t("settings.never_used")}
                      {" · "}
                      {token.expires_at_ms ? t("settings.expires_on", { when: formatWhen(token.expires_at_ms, lang) }) : t("settings.never_expires")}
                    </span>
                  </span>
                </div>
                <button type="button" class="button danger small" onClick={() => setRevoking(token)}>
                  {t("settings.revoke")}
                </button>
              </li>
            ))}
          </ul>
        ) : null}
      </div>
      <CreateToken domain={site.domain} onCreated={() => setRefresh((n) => n + 1)} />
      {revoking ? (
        <ConfirmDialog
          title={t("settings.token_revoke_title")}
          confirmLabel={t("settings.revoke")}
          onClose={() => setRevoking(null)}
          onConfirm={async () => {
            await del(`/api/tokens/${encodeURIComponent(revoking.name)}`);
            setRevoking(null);
            setRefresh((n) => n + 1);
          }}
        >
          <p>{revoking.sites === null ? t("settings.token_revoke_all_sites", { name: revoking.name }) : t("settings.token_revoke_text", { name: revoking.name })}</p>
        </ConfirmDialog>
      ) : null}
    </>
  );
}

function CreateToken({ domain, onCreated }: { domain: string; onCreated: () => void }) {
  const [name, setName] = useState("");
  const [scope, setScope] = useState<"read" | "write">("read");
  const [days, setDays] = useState("");
  const [checked, setChecked] = useState(false);
  const [created, setCreated] = useState<Token | null>(null);
  const action = useAction();
  const nameProblem = !isSlugName(name) ? t("settings.slug_invalid") : null;
  const expiry = days.trim() ? wholeNumber(days, 1, MAX_EXPIRY_DAYS) : null;
  const daysProblem = days.trim() && expiry === null ? t("settings.days_invalid", { max: MAX_EXPIRY_DAYS }) : null;
  const apiName = apiFieldError(action.error, "token_exists", "invalid_token_name");
  return (
    <form
      class="card settings-card"
      onSubmit={async (event) => {
        event.preventDefault();
        setChecked(true);
        if (nameProblem || daysProblem) return;
        setCreated(null);
        const body = { name, scope, sites: [domain], ...(expiry !== null ? { expires_in_days: expiry } : {}) };
        const answer = await action.run(() => post<Token>("/api/tokens", body));
        if (!answer) return;
        setCreated(answer);
        setName("");
        setDays("");
        setChecked(false);
        onCreated();
      }}
    >
      <h3>{t("settings.token_create")}</h3>
      <div class="field">
        <label for="token-name">{t("settings.token_name")}</label>
        <input
          id="token-name"
          value={name}
          autoComplete="off"
          autoCapitalize="off"
          spellcheck={false}
          placeholder="grafana"
          aria-invalid={Boolean((checked && nameProblem) || apiName)}
          aria-describedby="token-name-hint token-name-error"
          onInput={(event) => {
            setName((event.target as HTMLInputElement).value);
            if (action.error) action.reset();
          }}
        />
        <span class="hint" id="token-name-hint">
          {t("settings.slug_hint")}
        </span>
        <FieldError id="token-name-error">{(checked && nameProblem) || apiName}</FieldError>
      </div>
      <fieldset class="scope-choice">
        <legend>{t("settings.token_scope")}</legend>
        {(["read", "write"] as const).map((option) => (
          <label class="radio-card" key={option}>
            <input type="radio" name="token-scope" value={option} checked={scope === option} onChange={() => setScope(option)} />
            <span>
              <strong>{t(`settings.scope_${option}`)}</strong>
              <span class="hint block">{t(`settings.scope_${option}_hint`)}</span>
            </span>
          </label>
        ))}
      </fieldset>
      <div class="field narrow-field">
        <label for="token-days">{t("settings.expires_in_days")}</label>
        <input
          id="token-days"
          type="number"
          inputMode="numeric"
          min={1}
          max={MAX_EXPIRY_DAYS}
          value={days}
          placeholder={t("settings.never")}
          aria-invalid={Boolean(checked && daysProblem)}
          aria-describedby="token-days-error"
          onInput={(event) => setDays((event.target as HTMLInputElement).value)}
        />
        <FieldError id="token-days-error">{checked && daysProblem}</FieldError>
      </div>
      <FormError error={action.error} shown={["token_exists", "invalid_token_name"]} />
      <div class="form-actions">
        <Submit busy={action.busy}>{t("settings.token_create_submit")}</Submit>
      </div>
      {created?.secret ? (
        <Result>
          <p>
            <strong>{t("settings.token_created", { name: created.name })}</strong> {t("settings.shown_once")}
          </p>
          <CopyBlock text={created.secret} label={t("settings.token_secret")} />
          <p class="small">{t("settings.token_curl")}</p>
          <CopyBlock text={statsCurl(window.location.origin, created.secret, domain)} label={t("settings.token_curl")} />
        </Result>
      ) : null}
    </form>
  );
}
