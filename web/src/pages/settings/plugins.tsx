// Plugins (instance admins): the enrichment plugins this aggregator runs, whether they run
// on this site, and how they fare (calls, failures, the last error). A server without
// `GET /api/plugins` says so instead of failing.
import { ErrorMessage, Spinner } from "../../components/status";
import { ApiError, get } from "../../lib/api";
import { formatNumber, formatPercent } from "../../lib/format";
import { currentLanguage, t } from "../../lib/i18n";
import { useLoad } from "../../lib/stats";
import { formatWhen, SectionHead } from "./forms";
import { failureRate, pluginHealth, runsOn, type PluginStatus, type PluginsStatus } from "./plugin-status";
import type { SectionProps } from "./types";

export function PluginsSection({ site }: SectionProps) {
  const answer = useLoad(`plugins`, (signal) => get<PluginsStatus>("/api/plugins", signal));
  const missing = answer.error instanceof ApiError && (answer.error.status === 404 || answer.error.status === 405);
  const status = answer.data;
  return (
    <>
      <SectionHead title={t("settings.section_plugins")} intro={t("settings.plugins_intro")} />
      <div class="card settings-card">
        {answer.loading && !status ? <Spinner /> : null}
        {missing ? <p class="muted">{t("settings.plugins_unreported")}</p> : answer.error ? <ErrorMessage error={answer.error} /> : null}
        {status && !status.enabled ? <p class="muted">{t("settings.plugins_disabled")}</p> : null}
        {status && status.enabled && status.plugins.length === 0 ? <p class="muted">{t("settings.plugins_none")}</p> : null}
        {status && status.plugins.length > 0 ? (
          <ol class="item-list">
            {status.plugins.map((plugin) => (
              <PluginRow plugin={plugin} domain={site.domain} key={plugin.name} />
            ))}
          </ol>
        ) : null}
      </div>
    </>
  );
}

function PluginRow({ plugin, domain }: { plugin: PluginStatus; domain: string }) {
  const lang = currentLanguage();
  const health = pluginHealth(plugin, Date.now());
  const rate = failureRate(plugin);
  const badge = { idle: "", healthy: "good-badge", recovered: "", failing: "bad-badge" }[health];
  return (
    <li>
      <div class="item-main">
        <strong>{plugin.name}</strong>
        <span class="item-detail">
          <span class={`badge ${badge}`}>{t(`settings.plugin_health_${health}`)}</span>
          <span class="badge">
            {plugin.sites === null ? t("settings.plugin_all_sites") : runsOn(plugin, domain) ? t("settings.plugin_this_site") : t("settings.plugin_other_sites")}
          </span>
          <span class="muted small">{t(`settings.plugin_on_failure_${plugin.on_failure}`)}</span>
        </span>
        <dl class="plugin-counters">
          <div>
            <dt>{t("settings.plugin_calls")}</dt>
            <dd>{formatNumber(plugin.calls)}</dd>
          </div>
          <div>
            <dt>{t("settings.plugin_failures")}</dt>
            <dd>
              {formatNumber(plugin.failures)}
              {rate !== null && plugin.failures > 0 ? ` (${formatPercent(rate, lang, 2)})` : ""}
            </dd>
          </div>
        </dl>
        {plugin.last_error ? (
          <p class={`small ${health === "failing" ? "error" : "muted"}`}>
            {t("settings.plugin_last_error", { when: formatWhen(plugin.last_error_at_ms, lang), error: plugin.last_error })}
            {plugin.last_error_kind ? <span class="muted"> ({plugin.last_error_kind})</span> : null}
          </p>
        ) : null}
        <span class="muted small">{t("settings.plugin_loaded_at", { when: formatWhen(plugin.loaded_at_ms, lang) })}</span>
      </div>
    </li>
  );
}
