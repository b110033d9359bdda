// The dashboard's header: the site (and a switcher to the viewer's other sites), who is on it
// now (live), and the settings link for those who may manage it.
import { useState } from "preact/hooks";
import { Link } from "../../components/link";
import { serializeState } from "../../lib/dashboard-state";
import { t } from "../../lib/i18n";
import { allows, useSession } from "../../lib/session";
import type { DashboardProps } from "./context";
import { Dropdown } from "./dropdown";
import { applyPreset } from "./range";
import type { Realtime } from "./realtime";

export function SiteHeader({ props, realtime, basePath }: { props: DashboardProps; realtime: Realtime | null; basePath: string }) {
  const { site, shared, state, today } = props;
  const session = useSession();
  const [open, setOpen] = useState(false);
  const others = session.sites.filter((other) => other.domain !== site.domain);
  const live = serializeState(applyPreset(state, "realtime", today));
  // Another site opens on the same range and comparison; filters are about this site's data.
  const carried = serializeState({ ...state, filters: [], tabs: {}, funnel: undefined });
  return (
    <header class="site-header">
      <div class="site-title">
        <h1 class={shared || others.length === 0 ? "site-name" : "visually-hidden"}>
          <Favicon domain={site.domain} />
          {site.domain}
        </h1>
        {!shared && others.length > 0 ? (
          <Dropdown
            open={open}
            onOpenChange={setOpen}
            label={t("dashboard.switch_site")}
            class="site-switcher"
            button={
              <span class="site-name">
                <Favicon domain={site.domain} />
                {site.domain}
              </span>
            }
          >
            <nav class="menu" aria-label={t("dashboard.switch_site")}>
              {others.map((other) => (
                <Link href={`/sites/${encodeURIComponent(other.domain)}${carried ? `?${carried}` : ""}`} class="dropdown-item" key={other.domain} onClick={() => setOpen(false)}>
                  <Favicon domain={other.domain} />
                  <span>{other.domain}</span>
                </Link>
              ))}
              <Link href="/" class="dropdown-item menu-footer" onClick={() => setOpen(false)}>
                {t("dashboard.your_sites")}
              </Link>
            </nav>
          </Dropdown>
        ) : null}
        <Link
          href={`${basePath}${live ? `?${live}` : ""}`}
          class={`live-visitors ${state.period === "realtime" ? "active" : ""}`}
          title={t("dashboard.current_visitors_title")}
          aria-current={state.period === "realtime" ? "page" : undefined}
        >
          <span class={`live-dot ${realtime ? "on" : ""}`} aria-hidden="true" />
          <span aria-live="polite">{realtime ? t("dashboard.current_visitors", { count: realtime.visitors }) : t("dashboard.live")}</span>
        </Link>
      </div>
      {!shared && allows(site.access, "manage") ? (
        <Link href={`/sites/${encodeURIComponent(site.domain)}/settings`} class="button ghost small site-settings" aria-label={t("dashboard.settings")}>
          <svg viewBox="0 0 20 20" width="16" height="16" aria-hidden="true">
            <path
              d="M10 12.6a2.6 2.6 0 1 0 0-5.2 2.6 2.6 0 0 0 0 5.2Zm6.3-1.3.1-1.3-.1-1.3 1.6-1.3-1.6-2.8-2 .7a6 6 0 0 0-2.2-1.3L11.6 2H8.4l-.5 2.1a6 6 0 0 0-2.2 1.3l-2-.7-1.6 2.8 1.6 1.3-.1 1.3.1 1.3-1.6 1.3 1.6 2.8 2-.7a6 6 0 0 0 2.2 1.3l.5 2.1h3.2l.5-2.1a6 6 0 0 0 2.2-1.3l2 .7 1.6-2.8z"
              fill="none"
              stroke="currentColor"
              stroke-width="1.4"
              stroke-linejoin="round"
            />
          </svg>
          <span class="settings-text">{t("dashboard.settings")}</span>
        </Link>
      ) : null}
    </header>
  );
}

/**
 * The site's mark: its initial on a colour of its own (no favicon is fetched, since the page
 * may ask nothing of another origin).
 */
function Favicon({ domain }: { domain: string }) {
  let hash = 0;
  for (const char of domain) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return (
    <span class={`site-mark hue-${hash % 6}`} aria-hidden="true">
      {domain.replace(/^www\./, "").charAt(0).toUpperCase()}
    </span>
  );
}
