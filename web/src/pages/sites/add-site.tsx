// Adding a site (instance admins): its domain and time zone, then its snippet and the check
// that its first event arrived.
import { useMemo, useState } from "preact/hooks";
import { Link } from "../../components/link";
import { post, type Site } from "../../lib/api";
import { t } from "../../lib/i18n";
import { navigate } from "../../lib/router";
import { useSession } from "../../lib/session";
import { codeOf, FieldError, FormError, Submit, useAction, withCode } from "../settings/forms";
import { browserTimeZone, timeZones, zoneLabel } from "../settings/timezones";
import { FirstHitCheck, TrackingSnippet } from "../settings/tracking";
import { cleanDomain, domainProblem } from "../settings/validate";

export function AddSite() {
  const { reloadSites } = useSession();
  const [typed, setTyped] = useState("");
  const [zone, setZone] = useState(browserTimeZone);
  const [touched, setTouched] = useState(false);
  const action = useAction();
  const zones = useMemo(() => timeZones(zone), []);
  const domain = cleanDomain(typed);
  const problem = domainProblem(domain);
  const localError = touched && problem ? t(`sites.domain_${problem}`) : null;
  const apiDomainError = codeOf(action.error, "site_exists")
    ? withCode(t("sites.error_site_exists", { domain }), "site_exists")
    : codeOf(action.error, "invalid_domain")
      ? withCode(action.error?.message ?? "", "invalid_domain")
      : null;
  const zoneError = codeOf(action.error, "invalid_timezone") ? withCode(action.error?.message ?? "", "invalid_timezone") : null;

  return (
    <main class="page narrow sites-page">
      <p>
        <Link href="/">← {t("sites.back")}</Link>
      </p>
      <div class="card">
        <h1>{t("sites.add_title")}</h1>
        <form
          noValidate
          onSubmit={async (event) => {
            event.preventDefault();
            setTouched(true);
            if (problem) return;
            const created = await action.run(() => post<Site>("/api/sites", { domain, timezone: zone }));
            if (!created) return;
            await reloadSites();
            navigate(`/?added=${encodeURIComponent(created.domain)}`, { replace: true });
          }}
        >
          <div class="field">
            <label for="site-domain">{t("sites.domain")}</label>
            <input
              id="site-domain"
              type="text"
              inputMode="url"
              autoComplete="off"
              autoCapitalize="off"
              spellcheck={false}
              placeholder="example.com"
              value={typed}
              aria-invalid={Boolean(localError || apiDomainError)}
              aria-describedby="site-domain-hint site-domain-error"
              onInput={(event) => {
                setTyped((event.target as HTMLInputElement).value);
                if (action.error) action.reset();
              }}
              onBlur={() => typed && setTouched(true)}
            />
            <span class="hint" id="site-domain-hint">
              {domain && domain !== typed.trim() && !problem ? t("sites.domain_cleaned", { domain }) : t("sites.domain_hint")}
            </span>
            <FieldError id="site-domain-error">{localError ?? apiDomainError}</FieldError>
          </div>
          <div class="field">
            <label for="site-zone">{t("sites.timezone")}</label>
            <select id="site-zone" value={zone} aria-describedby="site-zone-hint site-zone-error" onChange={(event) => setZone((event.target as HTMLSelectElement).value)}>
              {zones.map((name) => (
                <option value={name} key={name}>
                  {zoneLabel(name)}
                </option>
              ))}
            </select>
            <span class="hint" id="site-zone-hint">
              {t("sites.timezone_hint")}
            </span>
            <FieldError id="site-zone-error">{zoneError}</FieldError>
          </div>
          <FormError error={action.error} shown={["site_exists", "invalid_domain", "invalid_timezone"]} />
          <div class="form-actions">
            <Submit busy={action.busy}>{t("sites.add_submit")}</Submit>
          </div>
        </form>
      </div>
    </main>
  );
}

/** After adding: the snippet to paste and the wait for the first event. */
export function SiteAdded({ domain }: { domain: string }) {
  const dashboard = `/sites/${encodeURIComponent(domain)}`;
  return (
    <main class="page narrow sites-page">
      <p>
        <Link href="/">← {t("sites.back")}</Link>
      </p>
      <div class="card">
        <p class="badge accent">{t("sites.added_badge")}</p>
        <h1>{t("sites.added_title", { domain })}</h1>
        <TrackingSnippet domain={domain} />
        <FirstHitCheck domain={domain} />
        <div class="form-actions">
          <Link href={dashboard} class="button">
            {t("sites.go_dashboard")}
          </Link>
          <Link href={`${dashboard}/settings/general`} class="button secondary">
            {t("sites.settings")}
          </Link>
        </div>
      </div>
    </main>
  );
}
