// Plugins (instance admins): the enrichment plugins this server runs and how they fare,
// from `GET /api/plugins`. A server without that route says so instead of failing.
import { ErrorMessage, Spinner } from "../../components/status";
import { ApiError, get } from "../../lib/api";
import { currentLanguage, t } from "../../lib/i18n";
import { formatNumber } from "../../lib/format";
import { useLoad } from "../../lib/stats";
import { formatWhen, SectionHead } from "./forms";
import { pluginsOf, type PluginStatus } from "./plugin-status";
import type { SectionProps } from "./types";

export function PluginsSection({ site }: SectionProps) {
  const answer = useLoad(`plugins`, (signal) => get<unknown>("/api/plugins", signal));
  const missing = answer.error instanceof ApiError && (answer.error.status === 404 || answer.error.status === 405);
  const plugins = answer.data === null ? null : pluginsOf(answer.data);
  return (
    <>
      <SectionHead title={t("settings.section_plugins")} intro={t("settings.plugins_intro")} />
      <div class="card settings-card">
        {answer.loading && !answer.data ? <Spinner /> : null}
        {missing ? <p class="muted">{t("settings.plugins_unreported")}</p> : answer.error ? <ErrorMessage error={answer.error} /> : null}
        {plugins && plugins.length === 0 ? <p class="muted">{t("settings.plugins_none")}</p> : null}
        {plugins && plugins.length > 0 ? (
          <ul class="item-list">
            {plugins.map((plugin) => (
              <PluginRow plugin={plugin} domain={site.domain} key={plugin.name} />
            ))}
          </ul>
        ) : null}
      </div>
    </>
  );
}

function PluginRow({ plugin, domain }: { plugin: PluginStatus; domain: string }) {
  const lang = currentLanguage();
  const here = plugin.sites === null || plugin.sites.includes(domain);
  return (
    <li>
      <div class="item-main">
        <strong>{plugin.name}</strong>
        <span class="item-detail">
          <span class={`badge ${plugin.healthy ? "good-badge" : plugin.status ? "bad-badge" : ""}`}>{plugin.status ?? t("settings.plugin_unknown")}</span>
          <span class="badge">{plugin.sites === null ? t("settings.plugin_all_sites") : here ? t("settings.plugin_this_site") : t("settings.plugin_other_sites")}</span>
          {plugin.version ? <span class="muted small">{plugin.version}</span> : null}
        </span>
        {plugin.path ? <code class="small muted">{plugin.path}</code> : null}
        {plugin.error ? <p class="error small">{plugin.error}</p> : null}
        {plugin.counters.length > 0 ? (
          <dl class="plugin-counters">
            {plugin.counters.map(([name, value]) => (
              <div key={name}>
                <dt>{name.replace(/_/g, " ")}</dt>
                <dd>{formatNumber(value)}</dd>
              </div>
            ))}
          </dl>
        ) : null}
        {plugin.loadedAtMs ? <span class="muted small">{t("settings.plugin_loaded_at", { when: formatWhen(plugin.loadedAtMs, lang) })}</span> : null}
      </div>
    </li>
  );
}
