// The goals panel's funnels tab: a funnel picker (the choice kept in the URL) and the chosen
// funnel's report over the view's range and filters, drawn as drop-off bars.
import { Link } from "../../../components/link";
import { ErrorMessage } from "../../../components/status";
import { Tooltip } from "../../../components/tooltip";
import { get, post, sitePath } from "../../../lib/api";
import { apiFilters } from "../../../lib/dashboard-state";
import { formatDuration, formatNumber, formatPercent } from "../../../lib/format";
import { t } from "../../../lib/i18n";
import { allows } from "../../../lib/session";
import { useLoad } from "../../../lib/stats";
import type { DashboardProps } from "../context";
import { panelRange } from "./catalogue";
import { funnelBars, funnelConversion, stepLabel, type FunnelAnswer, type FunnelStepDef } from "./funnel";
import { Skeleton } from "./report";

interface FunnelListed {
  name: string;
  steps: FunnelStepDef[];
}

export function FunnelsTab({ view }: { view: DashboardProps }) {
  const domain = view.site.domain;
  const list = useLoad(`${domain}`, (signal) => get<FunnelListed[]>(sitePath(domain, "/funnels"), signal));
  const funnels = list.data ?? [];
  const chosen = funnels.find((funnel) => funnel.name === view.state.funnel) ?? funnels[0];
  const body = chosen ? { date_range: panelRange(view.state, view.today), filters: apiFilters(view.state.filters) } : null;
  const report = useLoad(
    chosen && body ? `${domain}\n${chosen.name}\n${JSON.stringify(body)}` : null,
    (signal) => post<FunnelAnswer>(sitePath(domain, `/funnels/${encodeURIComponent(chosen?.name ?? "")}/report`), body, signal),
    view.refresh,
  );

  if (list.error) return <ErrorMessage error={list.error} />;
  if (!list.data) return <Skeleton />;
  if (funnels.length === 0) {
    const settings = !view.shared && allows(view.site.access, "manage");
    return (
      <div class="funnel-empty">
        <p>{t("panels.funnels_none")}</p>
        <p class="muted">{t("panels.funnels_how")}</p>
        {settings ? (
          <Link class="button secondary small" href={`/sites/${encodeURIComponent(domain)}/settings/funnels`}>
            {t("panels.funnels_create")}
          </Link>
        ) : (
          <p class="muted">{t("panels.funnels_ask")}</p>
        )}
      </div>
    );
  }
  return (
    <div class="funnel">
      <div class="funnel-bar">
        <label class="funnel-picker">
          <span>{t("panels.funnel")}</span>
          <select
            value={chosen?.name}
            onChange={(event) => view.update({ ...view.state, funnel: (event.target as HTMLSelectElement).value })}
          >
            {funnels.map((funnel) => (
              <option value={funnel.name} key={funnel.name}>
                {funnel.name}
              </option>
            ))}
          </select>
        </label>
        {report.data && (report.data.steps[0]?.visitors ?? 0) > 0 ? (
          <span class="funnel-total">
            {t("panels.funnel_conversion", { rate: formatPercent(funnelConversion(report.data.steps)) })}
          </span>
        ) : null}
      </div>
      {report.error && !report.loading ? (
        <ErrorMessage error={report.error} />
      ) : !report.data ? (
        <Skeleton rows={6} />
      ) : (
        <FunnelSteps answer={report.data} stale={report.loading} />
      )}
    </div>
  );
}

function FunnelSteps({ answer, stale }: { answer: FunnelAnswer; stale: boolean }) {
  const bars = funnelBars(answer.steps);
  const steps = answer.funnel.steps;
  if (bars.length === 0 || bars[0].visitors === 0) {
    return <p class="report-empty muted">{t("panels.funnel_empty")}</p>;
  }
  return (
    <ol class={stale ? "funnel-steps stale" : "funnel-steps"}>
      {bars.map((bar, index) => (
        <li class="funnel-step" key={index}>
          <div class="funnel-step-head">
            <span class="funnel-step-number" aria-hidden="true">
              {index + 1}
            </span>
            <span class="funnel-step-name">{steps[index] ? stepLabel(steps[index]) : ""}</span>
            <span class="funnel-step-visitors">
              {t("panels.funnel_visitors", { count: bar.visitors })}
            </span>
          </div>
          <div class="funnel-track" aria-hidden="true">
            <span class="funnel-fill" style={{ width: `${bar.bar}%` }} />
            <span class="funnel-dropped" style={{ left: `${bar.bar}%`, width: `${bar.droppedBar}%` }} />
          </div>
          <div class="funnel-step-facts muted">
            <span>
              <Tooltip text={t("panels.funnel_conversion_hint")}>{formatPercent(bar.conversion)}</Tooltip>
            </span>
            {index > 0 ? (
              <>
                <span>{t("panels.funnel_dropped", { dropped: formatNumber(bar.dropped), share: formatPercent(bar.dropOff) })}</span>
                {bar.medianSeconds !== null ? <span>{t("panels.funnel_median", { time: formatDuration(bar.medianSeconds) })}</span> : null}
              </>
            ) : (
              <span>{t("panels.funnel_entered")}</span>
            )}
          </div>
        </li>
      ))}
    </ol>
  );
}
