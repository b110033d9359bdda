// Share links: a public, read-only view of the dashboard, optionally with a password, an
// expiry, and permission to be embedded in another site's page.
import { useState } from "preact/hooks";
import { TextField } from "../../components/fields";
import { get, post, sitePath } from "../../lib/api";
import { currentLanguage, t } from "../../lib/i18n";
import { CardForm, apiFieldError, CopyBlock, DaysField, FormError, formatWhen, ItemRow, ListSection, ShownOnce, SlugField, Submit, useAction, MAX_EXPIRY_DAYS } from "./forms";
import { embedSnippet, shareUrl } from "./snippet";
import type { SectionProps } from "./types";
import { isSlugName, wholeNumber } from "./validate";

interface Share {
  name: string;
  has_password: boolean;
  embed: boolean;
  created_at_ms: number;
  expires_at_ms: number | null;
  code?: string;
  path?: string;
  url?: string;
}

const MIN_PASSWORD = 10;

export function SharesSection({ site }: SectionProps) {
  const lang = currentLanguage();
  return (
    <ListSection<Share>
      title={t("settings.section_shares")}
      intro={t("settings.shares_intro")}
      listTitle={t("settings.shares_list")}
      loadKey={`shares\n${site.domain}`}
      load={(signal) => get<Share[]>(sitePath(site.domain, "/shares"), signal)}
      none={t("settings.shares_none")}
      row={(share, { remove }) => {
        const expired = share.expires_at_ms !== null && share.expires_at_ms < Date.now();
        return (
          <ItemRow key={share.name} name={share.name} removeLabel={t("settings.revoke")} onRemove={remove}>
            <span class="item-detail">
              {share.has_password ? <span class="badge">{t("settings.share_password_badge")}</span> : null}
              {share.embed ? <span class="badge accent">{t("settings.share_embed_badge")}</span> : null}
              {expired ? <span class="badge bad-badge">{t("settings.share_expired")}</span> : null}
              <span class="muted small">
                {t("settings.created_on", { when: formatWhen(share.created_at_ms, lang) })}
                {" · "}
                {share.expires_at_ms ? t("settings.expires_on", { when: formatWhen(share.expires_at_ms, lang) }) : t("settings.never_expires")}
              </span>
            </span>
          </ItemRow>
        );
      }}
      form={(reload) => <CreateShare domain={site.domain} onCreated={reload} />}
      remove={{
        title: t("settings.share_revoke_title"),
        confirmLabel: t("settings.revoke"),
        path: (share) => sitePath(site.domain, `/shares/${encodeURIComponent(share.name)}`),
        text: (share) => t("settings.share_revoke_text", { name: share.name }),
      }}
    />
  );
}

function CreateShare({ domain, onCreated }: { domain: string; onCreated: () => void }) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [days, setDays] = useState("");
  const [embed, setEmbed] = useState(false);
  const [checked, setChecked] = useState(false);
  const [created, setCreated] = useState<Share | null>(null);
  const action = useAction();
  const nameProblem = !isSlugName(name) ? t("settings.slug_invalid") : null;
  const passwordProblem = password && password.length < MIN_PASSWORD ? t("settings.share_password_short", { min: MIN_PASSWORD }) : null;
  const expiry = days.trim() ? wholeNumber(days, 1, MAX_EXPIRY_DAYS) : null;
  const daysProblem = days.trim() && expiry === null ? t("settings.days_invalid", { max: MAX_EXPIRY_DAYS }) : null;
  const apiName = apiFieldError(action.error, "share_link_exists", "invalid_share_name");
  const apiPassword = apiFieldError(action.error, "weak_password", "invalid_password");
  const url = created ? (created.url ?? shareUrl(window.location.origin, created.path ?? `/share/${created.code}`)) : "";
  return (
    <CardForm
      title={t("settings.share_create")}
      onSubmit={async () => {
        setChecked(true);
        if (nameProblem || passwordProblem || daysProblem) return;
        setCreated(null);
        const body = {
          name,
          embed,
          ...(password ? { password } : {}),
          ...(expiry !== null ? { expires_in_days: expiry } : {}),
        };
        const answer = await action.run(() => post<Share>(sitePath(domain, "/shares"), body));
        if (!answer) return;
        setCreated(answer);
        setName("");
        setPassword("");
        setDays("");
        setEmbed(false);
        setChecked(false);
        onCreated();
      }}
    >
      <SlugField
        id="share-name"
        label={t("settings.share_name")}
        placeholder="newsletter"
        value={name}
        problem={(checked && nameProblem) || apiName}
        onValue={(value) => {
          setName(value);
          if (action.error) action.reset();
        }}
      />
      <div class="form-row">
        <TextField
          id="share-password"
          class="field grow"
          label={t("settings.share_password")}
          type="password"
          autoComplete="new-password"
          value={password}
          invalid={Boolean((checked && passwordProblem) || apiPassword)}
          hint={t("settings.share_password_hint", { min: MIN_PASSWORD })}
          error={(checked && passwordProblem) || apiPassword}
          onValue={setPassword}
        />
        <DaysField id="share-days" value={days} problem={checked && daysProblem} onValue={setDays} />
      </div>
      <div class="toggle-row">
        <input id="share-embed" type="checkbox" role="switch" class="switch" checked={embed} aria-describedby="share-embed-hint" onChange={(event) => setEmbed((event.target as HTMLInputElement).checked)} />
        <div>
          <label for="share-embed">{t("settings.share_embed")}</label>
          <span class="hint block" id="share-embed-hint">
            {t("settings.share_embed_hint")}
          </span>
        </div>
      </div>
      <FormError error={action.error} shown={["share_link_exists", "invalid_share_name", "weak_password", "invalid_password"]} />
      <div class="form-actions">
        <Submit busy={action.busy}>{t("settings.share_create_submit")}</Submit>
      </div>
      {created ? (
        <ShownOnce made={t("settings.share_created", { name: created.name })} text={url} label={t("settings.share_link")}>
          {created.embed ? (
            <>
              <p class="small">{t("settings.share_iframe")}</p>
              <CopyBlock text={embedSnippet(url, domain)} label={t("settings.share_iframe")} />
            </>
          ) : null}
        </ShownOnce>
      ) : null}
    </CardForm>
  );
}
