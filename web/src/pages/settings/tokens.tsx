// API tokens: the person's own tokens that reach this site, for programs (the Stats API,
// server-side events). Made for this site only, shown once, revoked here.
import { useState } from "preact/hooks";
import { get, post } from "../../lib/api";
import { currentLanguage, t } from "../../lib/i18n";
import { CardForm, apiFieldError, CopyBlock, DaysField, FormError, formatWhen, ItemRow, ListSection, MAX_EXPIRY_DAYS, ShownOnce, SlugField, Submit, useAction } from "./forms";
import { statsCurl } from "./snippet";
import type { SectionProps } from "./types";
import { isSlugName, wholeNumber } from "./validate";

/** An API token as the API lists it (`secret` only in the answer that made it). */
export interface Token {
  name: string;
  scope: string;
  sites: string[] | null;
  created_at_ms: number;
  expires_at_ms: number | null;
  last_used_at_ms: number | null;
  secret?: string;
}

/** Whether a token reaches `domain` (listed, or every site). */
export function reaches(token: Pick<Token, "sites">, domain: string): boolean {
  return token.sites === null || token.sites.includes(domain);
}

export function TokensSection({ site }: SectionProps) {
  const lang = currentLanguage();
  return (
    <ListSection<Token>
      title={t("settings.section_tokens")}
      intro={t("settings.tokens_intro")}
      listTitle={t("settings.tokens_list")}
      loadKey={`tokens`}
      load={(signal) => get<Token[]>("/api/tokens", signal)}
      pick={(all) => all.filter((token) => reaches(token, site.domain))}
      none={t("settings.tokens_none")}
      row={(token, { remove }) => (
        <ItemRow key={token.name} name={token.name} removeLabel={t("settings.revoke")} onRemove={remove}>
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
        </ItemRow>
      )}
      form={(reload) => <CreateToken domain={site.domain} onCreated={reload} />}
      remove={{
        title: t("settings.token_revoke_title"),
        confirmLabel: t("settings.revoke"),
        path: (token) => `/api/tokens/${encodeURIComponent(token.name)}`,
        text: (token) => (token.sites === null ? t("settings.token_revoke_all_sites", { name: token.name }) : t("settings.token_revoke_text", { name: token.name })),
      }}
    />
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
    <CardForm
      title={t("settings.token_create")}
      onSubmit={async () => {
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
      <SlugField
        id="token-name"
        label={t("settings.token_name")}
        placeholder="grafana"
        value={name}
        problem={(checked && nameProblem) || apiName}
        onValue={(value) => {
          setName(value);
          if (action.error) action.reset();
        }}
      />
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
      <DaysField id="token-days" class="field narrow-field" value={days} problem={checked && daysProblem} onValue={setDays} />
      <FormError error={action.error} shown={["token_exists", "invalid_token_name"]} />
      <div class="form-actions">
        <Submit busy={action.busy}>{t("settings.token_create_submit")}</Submit>
      </div>
      {created?.secret ? (
        <ShownOnce made={t("settings.token_created", { name: created.name })} text={created.secret} label={t("settings.token_secret")}>
          <p class="small">{t("settings.token_curl")}</p>
          <CopyBlock text={statsCurl(window.location.origin, created.secret, domain)} label={t("settings.token_curl")} />
        </ShownOnce>
      ) : null}
    </CardForm>
  );
}
