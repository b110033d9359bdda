// The person's own API tokens: the list, a new one (name, scope, sites, expiry; its secret
// shown once), and revoking one.
import { useState } from "preact/hooks";
import { ErrorMessage, Spinner } from "../../components/status";
import { del, get, post } from "../../lib/api";
import { t } from "../../lib/i18n";
import { allows, useSession } from "../../lib/session";
import { useLoad } from "../../lib/stats";
import { FormAlert, TextField } from "../../components/fields";
import { useSubmit } from "../auth/submit";
import type { Token } from "../settings/tokens";
import { formatDate, validTokenName } from "./logic";
import { CardTable, ConfirmDialog, CopyButton, FormButtons } from "./parts";

const EXPIRIES = [30, 90, 365, 0];

export function TokensCard() {
  const [refresh, setRefresh] = useState(0);
  const tokens = useLoad("tokens", (signal) => get<Token[]>("/api/tokens", signal), refresh);
  const [creating, setCreating] = useState(false);
  const [made, setMade] = useState<Token | null>(null);
  const [revoking, setRevoking] = useState<Token | null>(null);
  const reload = () => setRefresh((count) => count + 1);
  return (
    <section class="card account-wide" aria-labelledby="tokens-title">
      <div class="card-head">
        <h2 id="tokens-title">{t("account.tokens")}</h2>
        {!creating && !made ? (
          <button type="button" class="button secondary small" onClick={() => setCreating(true)}>
            {t("account.new_token")}
          </button>
        ) : null}
      </div>
      <p class="muted small">{t("account.tokens_intro")}</p>
      {made?.secret ? (
        <div class="secret-once" role="status">
          <p>
            <strong>{t("account.token_made", { name: made.name })}</strong> {t("account.token_shown_once")}
          </p>
          <div class="key-row">
            <code id="token-secret">{made.secret}</code>
            <CopyButton text={made.secret} />
          </div>
          <button type="button" class="button small" onClick={() => setMade(null)}>
            {t("account.token_saved")}
          </button>
        </div>
      ) : null}
      {creating ? (
        <NewToken
          onCreated={(token) => {
            setCreating(false);
            setMade(token);
            reload();
          }}
          onCancel={() => setCreating(false)}
        />
      ) : null}
      {tokens.error && !tokens.data ? <ErrorMessage error={tokens.error} /> : null}
      {!tokens.data && !tokens.error ? <Spinner /> : null}
      {tokens.data && !tokens.data.length && !creating ? <p class="muted">{t("account.no_tokens")}</p> : null}
      {tokens.data && tokens.data.length ? (
        <CardTable
          class="tokens-table"
          columns={[t("account.token_name"), t("account.token_scope"), t("account.token_sites"), t("account.token_expires"), t("account.token_last_used")]}
          rows={tokens.data}
          rowKey={(token) => token.name}
          cells={(token) => [
            <code>{token.name}</code>,
            <span class="badge">{t(`account.scope.${token.scope}`)}</span>,
            token.sites ? token.sites.join(", ") : t("account.all_sites"),
            token.expires_at_ms ? formatDate(token.expires_at_ms) : t("account.never"),
            token.last_used_at_ms ? formatDate(token.last_used_at_ms) : t("account.never_used"),
          ]}
          action={(token) => (
            <button type="button" class="button danger small" onClick={() => setRevoking(token)} aria-label={t("account.revoke_named", { name: token.name })}>
              {t("account.revoke")}
            </button>
          )}
        />
      ) : null}
      {revoking ? (
        <ConfirmDialog
          title={t("account.revoke_token")}
          text={t("account.revoke_token_text", { name: revoking.name })}
          confirmLabel={t("account.revoke")}
          danger
          ask={null}
          onConfirm={async () => {
            await del(`/api/tokens/${encodeURIComponent(revoking.name)}`);
            if (made?.name === revoking.name) setMade(null);
            reload();
          }}
          onClose={() => setRevoking(null)}
        />
      ) : null}
    </section>
  );
}

function NewToken({ onCreated, onCancel }: { onCreated: (token: Token) => void; onCancel: () => void }) {
  const { sites } = useSession();
  const readable = sites.filter((site) => allows(site.access, "read"));
  const [name, setName] = useState("");
  const [scope, setScope] = useState("read");
  const [allSites, setAllSites] = useState(readable.length === 0);
  const [chosen, setChosen] = useState<string[]>(readable.length === 1 ? [readable[0].domain] : []);
  const [expiry, setExpiry] = useState(90);
  const { busy, error, setError, run } = useSubmit();
  const nameOk = name === "" || validTokenName(name);
  const submit = (event: Event) => {
    event.preventDefault();
    if (!validTokenName(name)) return;
    if (!allSites && chosen.length === 0) {
      setError(t("account.token_needs_site"));
      return;
    }
    void run(async () => {
      const body: Record<string, unknown> = { name, scope };
      if (allSites) body.all_sites = true;
      else body.sites = chosen;
      if (expiry) body.expires_in_days = expiry;
      onCreated(await post<Token>("/api/tokens", body));
    });
  };
  const toggle = (domain: string, on: boolean) => setChosen((before) => (on ? [...before, domain] : before.filter((item) => item !== domain)));
  return (
    <form class="token-form" onSubmit={submit}>
      <div class="token-form-grid">
        <TextField
          id="token-name"
          label={t("account.token_name")}
          required
          maxLength={64}
          pattern="[A-Za-z0-9._\-]+"
          placeholder="ci-export"
          autoFocus
          spellcheck={false}
          invalid={!nameOk}
          hint={t("account.token_name_hint")}
          hintClass={nameOk ? "hint" : "hint error"}
          value={name}
          onValue={setName}
        />
        <div class="field">
          <label for="token-scope">{t("account.token_scope")}</label>
          <select id="token-scope" value={scope} onChange={(event) => setScope((event.target as HTMLSelectElement).value)}>
            <option value="read">{t("account.scope.read")}</option>
            <option value="write">{t("account.scope.write")}</option>
          </select>
          <span class="hint">{t(`account.scope_hint.${scope}`)}</span>
        </div>
        <div class="field">
          <label for="token-expiry">{t("account.token_expires")}</label>
          <select id="token-expiry" value={String(expiry)} onChange={(event) => setExpiry(Number((event.target as HTMLSelectElement).value))}>
            {EXPIRIES.map((days) => (
              <option key={days} value={String(days)}>
                {days ? t("account.in_days", { count: days }) : t("account.never")}
              </option>
            ))}
          </select>
        </div>
      </div>
      <fieldset class="field sites-choice">
        <legend>{t("account.token_sites")}</legend>
        <label class="check">
          <input type="checkbox" checked={allSites} onChange={(event) => setAllSites((event.target as HTMLInputElement).checked)} />
          {t("account.all_sites_now_and_later")}
        </label>
        {!allSites
          ? readable.map((site) => (
              <label class="check" key={site.domain}>
                <input type="checkbox" checked={chosen.includes(site.domain)} onChange={(event) => toggle(site.domain, (event.target as HTMLInputElement).checked)} />
                {site.domain}
              </label>
            ))
          : null}
      </fieldset>
      <FormAlert error={error} />
      <FormButtons label={t("account.create_token")} busy={busy} disabled={!nameOk} onCancel={onCancel} />
    </form>
  );
}
