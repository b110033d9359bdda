// One breakdown report drawn as a panel's rows: the label over a bar proportional to the
// first metric, the values, and a footer with the rows not shown and the details button.
// A row is a toggle button: pressing it filters the dashboard by its value.
import { useEffect, useState } from "preact/hooks";
import { ApiError } from "../../../lib/api";
import { currentLanguage, t } from "../../../lib/i18n";
import { formatMetric } from "../../../lib/format";
import { useStats, type Loaded, type StatsAnswer } from "../../../lib/stats";
import { allows } from "../../../lib/session";
import { Link } from "../../../components/link";
import { Tooltip } from "../../../components/tooltip";
import { ErrorMessage } from "../../../components/status";
import type { DashboardProps } from "../context";
import { isRowFiltered, reportQuery, rowFilter, toggleRowFilter, type ReportDef } from "./catalogue";
import { externalUrl, hasMoney, moreRows, rowsOf } from "./rows";
import { rowFlag, rowLabel } from "./labels";
import { ExternalIcon, Favicon } from "./icons";
import "./panels.css";

/** Rows a panel shows. */
export const PANEL_ROWS = 9;

const REVENUE = ["total_revenue", "average_revenue"];

/** Sites whose goals' revenue the API refused (in several currencies): not asked again in this tab. */
const REFUSED_KEY = "hitkeep.revenue-refused";

function revenueRefused(domain: string): boolean {
  try {
    return (window.sessionStorage.getItem(REFUSED_KEY) ?? "").split("\n").includes(domain);
  } catch {
    return false;
  }
}

function refuseRevenue(domain: string): void {
  try {
    const known = (window.sessionStorage.getItem(REFUSED_KEY) ?? "").split("\n").filter(Boolean);
    if (!known.includes(domain)) window.sessionStorage.setItem(REFUSED_KEY, [...known, domain].join("\n"));
  } catch {
    // Storage blocked: it is asked again on the next visit.
  }
}

/**
 * The answer of a report's query (the view's range and filters) and the metrics it holds.
 * Revenue is asked with the rows: the goal breakdown counts it in the same scan. A site whose
 * goals earn in several currencies (which the API refuses to add up) is asked for the rows
 * alone from then on, in this tab.
 */
export function useReport(
  report: ReportDef,
  view: DashboardProps,
  metrics: string[],
  options: { limit?: number; search?: string; orderBy?: [string, "asc" | "desc"] } = {},
): { answer: Loaded<StatsAnswer>; metrics: string[] } {
  const domain = view.site.domain;
  const plain = metrics.filter((metric) => !REVENUE.includes(metric));
  const money = metrics.filter((metric) => REVENUE.includes(metric));
  const [refused, setRefused] = useState(() => revenueRefused(domain));
  const asked = money.length > 0 && !refused ? [...plain, ...money] : plain;
  const answer = useStats(domain, reportQuery(report, view.state, view.today, { ...options, metrics: asked }), view.refresh);
  const mixed = asked !== plain && answer.error instanceof ApiError && answer.error.code === "mixed_currencies";
  useEffect(() => {
    if (mixed) {
      refuseRevenue(domain);
      setRefused(true);
    }
  }, [mixed, domain]);
  // Until the rows are asked again without revenue, they are loading, not failed.
  if (mixed) return { answer: { data: null, error: null, loading: true }, metrics: plain };
  return { answer, metrics: asked };
}

/** A metric's short name with its definition (docs/metrics.md) on hover and focus. */
export function MetricName({ metric }: { metric: string }) {
  return <Tooltip text={t(`metrics.${metric}`)}>{t(`metrics.name_${metric}`)}</Tooltip>;
}

/** The metrics worth a column: revenue only when some row has any. */
export function shownMetrics(metrics: string[], answer: StatsAnswer | null): { metric: string; index: number }[] {
  return metrics
    .map((metric, index) => ({ metric, index }))
    .filter(({ metric, index }) => !REVENUE.includes(metric) || hasMoney(answer, index));
}

/** A row's label: its icon or flag, its text, and the link out for pages and referrers. */
export function RowLabel({ report, value, view }: { report: ReportDef; value: string | number | null; view: DashboardProps }) {
  const text = rowLabel(report, value, currentLanguage());
  const flag = rowFlag(report, value);
  return (
    <>
      {report.label === "source" || report.label === "referrer" ? (
        <Favicon domain={view.site.domain} source={String(value ?? "")} shared={view.shared} />
      ) : null}
      {flag ? (
        <span class="panel-flag" aria-hidden="true">
          {flag}
        </span>
      ) : null}
      <span class="report-text">{text}</span>
    </>
  );
}

/** The link out of a row (a page of the site, a referrer), none under a share link. */
export function RowLink({ report, value, view }: { report: ReportDef; value: string | number | null; view: DashboardProps }) {
  const url = view.shared ? null : externalUrl(report.label, value, view.site.domain);
  if (!url) return null;
  return (
    <a class="report-external" href={url} target="_blank" rel="noopener noreferrer" title={url}>
      <ExternalIcon />
      <span class="visually-hidden">{t("panels.open_link", { label: String(value) })}</span>
    </a>
  );
}

interface ReportProps {
  report: ReportDef;
  view: DashboardProps;
  /** Opens the details dialog of this report. */
  onDetails: () => void;
}

/** A panel's report: its rows, loaded with the view, and the way to its details. */
export function Report({ report, view, onDetails }: ReportProps) {
  const { answer, metrics } = useReport(report, view, report.metrics, { limit: PANEL_ROWS });
  const data = answer.data;
  const rows = rowsOf(data);
  const columns = shownMetrics(metrics, data);
  const more = moreRows(data);
  // Phones show the first two metrics; the details dialog has them all.
  const grid = { "--columns": columns.length, "--columns-narrow": Math.min(columns.length, 2) };
  return (
    <div class="report" aria-busy={answer.loading}>
      <div class="report-head" style={grid}>
        <span>{t(report.column)}</span>
        {columns.map(({ metric }, at) => (
          <span class={at >= 2 ? "report-number report-extra" : "report-number"} key={metric}>
            <MetricName metric={metric} />
          </span>
        ))}
      </div>
      <div class="report-body">
        {answer.error && !answer.loading ? (
          <ErrorMessage error={answer.error} />
        ) : data === null ? (
          <Skeleton />
        ) : rows.length === 0 ? (
          <EmptyReport report={report} view={view} />
        ) : (
          <ul class={answer.loading ? "report-rows stale" : "report-rows"}>
            {rows.map((row) => {
              const filter = rowFilter(report, row.value);
              const pressed = isRowFiltered(view.state, filter);
              return (
                <li class={pressed ? "report-row filtered" : "report-row"} style={grid} key={String(row.value)}>
                  <div class="report-label-cell">
                    <span class="report-bar" style={{ width: `${row.bar}%` }} aria-hidden="true" />
                    {filter ? (
                      <button
                        type="button"
                        class="report-label"
                        aria-pressed={pressed}
                        title={rowLabel(report, row.value, currentLanguage())}
                        onClick={() => view.update(toggleRowFilter(view.state, filter))}
                      >
                        <RowLabel report={report} value={row.value} view={view} />
                        <span class="visually-hidden">{t("panels.filter_action")}</span>
                      </button>
                    ) : (
                      <span class="report-label">
                        <RowLabel report={report} value={row.value} view={view} />
                      </span>
                    )}
                    <RowLink report={report} value={row.value} view={view} />
                  </div>
                  {columns.map(({ metric, index }, at) => (
                    <span class={at >= 2 ? "report-number report-extra" : "report-number"} key={metric}>
                      <span class="visually-hidden">{t(`metrics.name_${metric}`)}: </span>
                      {formatMetric(metric, row.metrics[index], { compact: true })}
                    </span>
                  ))}
                </li>
              );
            })}
          </ul>
        )}
      </div>
      <div class="report-foot">
        {rows.length > 0 ? (
          <button type="button" class="button ghost small report-details" onClick={onDetails}>
            {more > 0 ? t("panels.more", { count: more }) : t("panels.details")}
            <span aria-hidden="true"> →</span>
          </button>
        ) : null}
      </div>
    </div>
  );
}

/** What a report without rows says: goals and custom events say how to get some. */
function EmptyReport({ report, view }: { report: ReportDef; view: DashboardProps }) {
  const settings = !view.shared && allows(view.site.access, "manage");
  if (report.dimension === "event:goal") {
    return (
      <div class="report-empty muted">
        <p>{t("panels.goals_none")}</p>
        {settings ? (
          <Link class="button secondary small" href={`/sites/${encodeURIComponent(view.site.domain)}/settings/goals`}>
            {t("panels.goals_create")}
          </Link>
        ) : null}
      </div>
    );
  }
  if (report.dimension === "event:name") {
    return (
      <div class="report-empty muted">
        <p>{t("panels.events_none")}</p>
        <p>
          <code>hitkeep("Signup", {"{"} props: {"{"} plan: "pro" {"}"} {"}"})</code>
        </p>
      </div>
    );
  }
  return <p class="report-empty muted">{t("panels.empty")}</p>;
}

/** Grey rows of the panel's height while the first answer loads, so nothing jumps. */
export function Skeleton({ rows = PANEL_ROWS }: { rows?: number }) {
  return (
    <div class="report-skeleton" role="status">
      <span class="visually-hidden">{t("common.loading")}</span>
      {Array.from({ length: rows }, (_, index) => (
        <span class="skeleton-row" key={index} style={{ width: `${90 - index * 8}%` }} aria-hidden="true" />
      ))}
    </div>
  );
}
