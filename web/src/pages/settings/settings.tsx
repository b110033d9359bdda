// A site's settings at /sites/<domain>/settings/<section>: a side menu on wide screens, a
// select on phones, and the sections the person's access allows.
import type { ComponentType } from "preact";
import { Link } from "../../components/link";
import { t } from "../../lib/i18n";
import { navigate } from "../../lib/router";
import { useSession } from "../../lib/session";
import { ClusterSection } from "./cluster";
import { useTitle } from "./forms";
import { FunnelsSection } from "./funnels";
import { GeneralSection } from "./general";
import { GoalsSection } from "./goals";
import { MembersSection } from "./members";
import { PluginsSection } from "./plugins";
import { PrivacySection } from "./privacy";
import { ReportsSection } from "./reports";
import { SECTIONS, sectionOf, visibleSections, type Section } from "./sections";
import { SharesSection } from "./shares";
import { TokensSection } from "./tokens";
import type { SectionProps } from "./types";
import "./settings.css";

const VIEWS: Record<Section, ComponentType<SectionProps>> = {
  general: GeneralSection,
  privacy: PrivacySection,
  goals: GoalsSection,
  funnels: FunnelsSection,
  members: MembersSection,
  shares: SharesSection,
  reports: ReportsSection,
  tokens: TokensSection,
  plugins: PluginsSection,
  cluster: ClusterSection,
};

export function SettingsPage({ domain, section }: { domain: string; section: string }) {
  const { sites, account } = useSession();
  const site = sites.find((candidate) => candidate.domain === domain);
  useTitle(`${(SECTIONS as readonly string[]).includes(section) ? t(`settings.section_${section}`) : t("settings.title")} · ${domain}`);
  if (!site) {
    return (
      <main class="page narrow">
        <h1>{t("settings.no_site_title")}</h1>
        <p>{t("settings.no_site", { domain })}</p>
        <p>
          <Link href="/">{t("common.back_to_sites")}</Link>
        </p>
      </main>
    );
  }
  const visible = visibleSections(site.access, account?.role);
  const current = sectionOf(section, visible);
  const base = `/sites/${encodeURIComponent(site.domain)}`;
  const View = current ? VIEWS[current] : null;
  return (
    <main class="page settings-page">
      <header class="settings-head">
        <Link href={base} class="settings-back">
          ← {t("settings.back_to_dashboard")}
        </Link>
        <h1>
          {t("settings.title")} <span class="muted">· {site.domain}</span>
        </h1>
      </header>
      <div class="settings-layout">
        <nav class="settings-nav" aria-label={t("settings.sections")}>
          <ul>
            {visible.map((name) => (
              <li key={name}>
                <Link href={`${base}/settings/${name}`} aria-current={name === current ? "page" : undefined}>
                  {t(`settings.section_${name}`)}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <label class="settings-select">
          <span class="visually-hidden">{t("settings.sections")}</span>
          <select value={current ?? ""} onChange={(event) => navigate(`${base}/settings/${(event.target as HTMLSelectElement).value}`)}>
            {current ? null : <option value="">—</option>}
            {visible.map((name) => (
              <option value={name} key={name}>
                {t(`settings.section_${name}`)}
              </option>
            ))}
          </select>
        </label>
        <section class="settings-body" aria-labelledby="settings-section-title">
          {View ? (
            <View site={site} account={account} />
          ) : (
            <div class="card">
              <h2 id="settings-section-title">{t("settings.section_missing_title")}</h2>
              <p>{visible.length > 0 ? t("settings.section_missing") : t("settings.no_settings")}</p>
              {visible.length > 0 ? <Link href={`${base}/settings/${visible[0]}`}>{t(`settings.section_${visible[0]}`)}</Link> : null}
            </div>
          )}
        </section>
      </div>
    </main>
  );
}
