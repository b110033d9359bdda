// The account page of the person signed in: who they are, their password, second factors
// (authenticator app, passkeys), sessions and API tokens. While the instance requires a
// second factor they do not have yet, this is the only page they can use.
import { useState } from "preact/hooks";
import { patch, type Account } from "../../lib/api";
import { t } from "../../lib/i18n";
import { FormAlert, TextField } from "../../components/fields";
import { useSubmit } from "../auth/submit";
import { useSession } from "../../lib/session";
import { AuthenticatorCard } from "./totp";
import { PasskeysCard } from "./passkeys";
import { PasswordCard } from "./password";
import { SessionsCard } from "./sessions";
import { TokensCard } from "./tokens";
import "../auth/auth.css";
import "./account.css";

export function AccountPage() {
  const { account } = useSession();
  // Each card says whether its kind of factor is on, once it knows: together they tell
  // whether the person has a second factor now (the account said so at the start).
  const [factors, setFactors] = useState<{ totp?: boolean; passkey?: boolean }>({});
  if (!account) return null;
  const known = factors.totp !== undefined && factors.passkey !== undefined;
  const hasFactor = known ? !!(factors.totp || factors.passkey) : account.has_second_factor;
  const locked = account.second_factor_required && !hasFactor;
  const unlocked = account.second_factor_required && !account.has_second_factor && hasFactor;
  const factorsChanged = (kind: "totp" | "passkey", on: boolean) =>
    setFactors((before) => (before[kind] === on ? before : { ...before, [kind]: on }));
  return (
    <main class="page account-page">
      <h1>{t("account.title")}</h1>
      {locked ? (
        <div class="account-banner warn" role="alert">
          <strong>{t("account.factor_required_title")}</strong>
          <p>{t("account.factor_required_text")}</p>
        </div>
      ) : null}
      {unlocked ? (
        <div class="account-banner good" role="status">
          <p>{t("account.factor_required_done")}</p>
          <a class="button" href="/">
            {t("account.continue_to_sites")}
          </a>
        </div>
      ) : null}
      <div class="account-grid">
        <section class="card account-profile" aria-labelledby="profile-title">
          <h2 id="profile-title">{t("account.profile")}</h2>
          <dl class="facts">
            <NameFact initial={account.name} />
            <div>
              <dt>{t("account.email")}</dt>
              <dd>{account.email}</dd>
            </div>
            <div>
              <dt>{t("account.instance_role")}</dt>
              <dd>
                <span class="badge accent">{t(`auth.role.${account.role}`)}</span>
              </dd>
            </div>
            {account.sites.length ? (
              <div>
                <dt>{t("account.site_roles")}</dt>
                <dd>
                  <ul class="plain-list">
                    {account.sites.map((site) => (
                      <li key={site.domain}>
                        {site.domain} <span class="badge">{t(`auth.site_role.${site.role}`)}</span>
                      </li>
                    ))}
                  </ul>
                </dd>
              </div>
            ) : null}
          </dl>
          <p class="muted small">{t("account.profile_note")}</p>
        </section>
        <PasswordCard hasPassword={account.has_password} email={account.email} />
      </div>
      <h2 class="account-section-title">{t("account.second_factors")}</h2>
      <p class="muted section-intro">{t("account.second_factors_intro")}</p>
      <div class="account-grid">
        <AuthenticatorCard account={account} onFactorsChanged={factorsChanged} />
        <PasskeysCard hasPassword={account.has_password} onFactorsChanged={factorsChanged} />
      </div>
      <SessionsCard />
      {locked ? null : <TokensCard />}
      <p class="muted account-footer">
        <a href="/basic/account">{t("account.basic_page")}</a>
      </p>
    </main>
  );
}

/** The person's name, and the form that changes it. */
function NameFact({ initial }: { initial: string }) {
  const [name, setName] = useState(initial);
  const [draft, setDraft] = useState<string | null>(null);
  const { busy, error, run } = useSubmit();
  const save = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const me = await patch<Account>("/api/account", { name: draft ?? "" });
      setName(me.name);
      setDraft(null);
    });
  };
  return (
    <div>
      <dt>{t("account.name")}</dt>
      <dd>
        {draft === null ? (
          <span class="name-fact">
            {name || <span class="muted">{t("account.no_name")}</span>}
            <button type="button" class="button ghost small" onClick={() => setDraft(name)}>
              {t("account.change_name")}
            </button>
          </span>
        ) : (
          <form class="name-form" onSubmit={save}>
            <TextField id="profile-name" label={t("account.new_name")} value={draft} onValue={setDraft} maxLength={100} autocomplete="name" />
            <FormAlert error={error} />
            <div class="form-actions">
              <button type="submit" class="button" disabled={busy}>
                {busy ? t("auth.saving") : t("common.save")}
              </button>
              <button type="button" class="button ghost" onClick={() => setDraft(null)}>
                {t("common.cancel")}
              </button>
            </div>
          </form>
        )}
      </dd>
    </div>
  );
}
