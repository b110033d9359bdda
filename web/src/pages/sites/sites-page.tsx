// The signed-in home page: every site the person may see, with a sparkline and today's and
// current visitors; adding a site (instance admins) and its snippet. The view is in the URL:
// `?range=7d`, `?q=` (the search), `?add` (the form), `?added=<domain>` (the snippet).
import { Link } from "../../components/link";
import { t } from "../../lib/i18n";
import { navigate, useLocation } from "../../lib/router";
import { useSession } from "../../lib/session";
import { useTitle } from "../settings/forms";
import { isInstanceAdmin } from "../settings/sections";
import { AddSite, SiteAdded } from "./add-site";
import { SiteCard, type SparkRange } from "./site-card";
import "./sites.css";

/** With more sites than this, the list has a search box. */
const SEARCH_FROM = 8;

export function SitesPage() {
  const { sites, account } = useSession();
  const { params } = useLocation();
  const admin = isInstanceAdmin(account?.role);
  const adding = admin && params.has("add");
  useTitle(adding ? t("sites.add_title") : t("sites.title"));
  if (adding) return <AddSite />;
  const added = params.get("added");
  if (added) return <SiteAdded domain={added} />;

  const range: SparkRange = params.get("range") === "7d" ? "7d" : "24h";
  const query = params.get("q") ?? "";
  const needle = query.trim().toLowerCase();
  const shown = needle ? sites.filter((site) => site.domain.includes(needle)) : sites;
  const change = (key: string, value: string | null) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    const search = next.toString();
    navigate(search ? `/?${search}` : "/", { replace: true });
  };

  if (sites.length === 0) return <NoSites admin={admin} />;

  return (
    <main class="page sites-page">
      <div class="sites-head">
        <h1>{t("sites.title")}</h1>
        <div class="sites-controls">
          {sites.length > SEARCH_FROM ? (
            <label class="sites-search">
              <span class="visually-hidden">{t("sites.search")}</span>
              <input
                type="search"
                value={query}
                placeholder={t("sites.search_placeholder")}
                onInput={(event) => change("q", (event.target as HTMLInputElement).value)}
              />
            </label>
          ) : null}
          <div class="tabs" role="tablist" aria-label={t("sites.range")}>
            {(["24h", "7d"] as const).map((option) => (
              <button
                type="button"
                role="tab"
                key={option}
                aria-selected={range === option}
                onClick={() => change("range", option === "24h" ? null : option)}
              >
                {t(`sites.range_${option}`)}
              </button>
            ))}
          </div>
          {admin ? (
            <Link href="/?add" class="button">
              {t("sites.add")}
            </Link>
          ) : null}
        </div>
      </div>
      {shown.length === 0 ? (
        <p class="empty muted">{t("sites.no_match", { query })}</p>
      ) : (
        <ul class="site-grid">
          {shown.map((site) => (
            <SiteCard site={site} range={range} key={site.domain} />
          ))}
        </ul>
      )}
    </main>
  );
}

/** A new instance (or a person without sites): what to do next. */
function NoSites({ admin }: { admin: boolean }) {
  return (
    <main class="page narrow sites-page">
      <div class="card sites-empty">
        <h1>{admin ? t("sites.empty_title") : t("sites.empty_title_member")}</h1>
        {admin ? (
          <>
            <p>{t("sites.empty_intro")}</p>
            <ol class="steps-list">
              <li>{t("sites.empty_step_add")}</li>
              <li>{t("sites.empty_step_snippet")}</li>
              <li>{t("sites.empty_step_visit")}</li>
            </ol>
            <Link href="/?add" class="button">
              {t("sites.add_first")}
            </Link>
            <p class="muted small">{t("sites.empty_cli")}</p>
          </>
        ) : (
          <p>{t("sites.empty_member")}</p>
        )}
      </div>
    </main>
  );
}
