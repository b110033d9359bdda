// A panel's details dialog (its own chunk, loaded when first opened): up to 100 rows at a
// time with more metrics, a search (a `contains` filter on the dimension), sortable
// columns, more rows on demand and the whole breakdown as CSV.
import { useEffect, useState } from "preact/hooks";
import { Modal } from "../../../components/modal";
import { ErrorMessage } from "../../../components/status";
import { authHeaders } from "../../../lib/api";
import { formatMetric, formatNumber } from "../../../lib/format";
import { currentLanguage, t } from "../../../lib/i18n";
import { downloadCsv, runStats, type StatsRow } from "../../../lib/stats";
import type { DashboardProps } from "../context";
import { isRowFiltered, reportQuery, rowFilter, toggleRowFilter, type ReportDef } from "./catalogue";
import { rowLabel } from "./labels";
import { MetricName, RowLabel, RowLink, shownMetrics, Skeleton, useReport } from "./report";

const PAGE = 100;
const SEARCH_DELAY_MS = 300;

type Order = [string, "asc" | "desc"];

/** A CSV file's name: the site, the report and the range (`example.com-sources-2026-11-01-2026-11-30.csv`). */
export function csvName(domain: string, report: ReportDef, range: string | [string, string]): string {
  const span = typeof range === "string" ? range : range.join("-");
  const what = report.dimension.replace(/^(visit|event):/, "").replace(/[^a-z0-9_-]+/gi, "_");
  return `${domain}-${what}-${span}.csv`;
}

export function Details({ report, view, title, onClose }: { report: ReportDef; view: DashboardProps; title: string; onClose: () => void }) {
  const [input, setInput] = useState("");
  const [search, setSearch] = useState("");
  useEffect(() => {
    const timer = setTimeout(() => setSearch(input.trim()), SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
  }, [input]);
  const [order, setOrder] = useState<Order>([report.details[0], "desc"]);
  const { answer, metrics } = useReport(report, view, report.details, { limit: PAGE, search, orderBy: order });
  const [more, setMore] = useState<{ key: string; rows: StatsRow[]; loading: boolean; error: Error | null }>({
    key: "",
    rows: [],
    loading: false,
    error: null,
  });
  const [exporting, setExporting] = useState<Error | "busy" | null>(null);
  const key = JSON.stringify([answer.data?.query ?? null, search, order]);
  const extra = more.key === key ? more.rows : [];
  const rows = answer.data ? [...answer.data.results, ...extra] : [];
  const total = answer.data?.meta.total_rows;
  const columns = shownMetrics(metrics, answer.data);
  const lang = currentLanguage();

  const loadMore = async () => {
    setMore({ key, rows: extra, loading: true, error: null });
    try {
      const next = await runStats(
        view.site.domain,
        reportQuery(report, view.state, view.today, { metrics: metrics.filter((metric) => !isMoney(metric)), search, orderBy: order, limit: PAGE, offset: rows.length }),
      );
      setMore({ key, rows: [...extra, ...next.results], loading: false, error: null });
    } catch (error) {
      setMore({ key, rows: extra, loading: false, error: error instanceof Error ? error : new Error(String(error)) });
    }
  };

  const exportCsv = async () => {
    setExporting("busy");
    try {
      const query = reportQuery(report, view.state, view.today, { metrics, search, orderBy: order, limit: 10_000 });
      await downloadCsv(view.site.domain, query, csvName(view.site.domain, report, query.date_range), authHeaders());
      setExporting(null);
    } catch (error) {
      setExporting(error instanceof Error ? error : new Error(String(error)));
    }
  };

  const sortBy = (name: string) =>
    setOrder(([current, direction]) => [name, current === name && direction === "desc" ? "asc" : "desc"]);
  const sortState = (name: string): "ascending" | "descending" | undefined =>
    order[0] === name ? (order[1] === "asc" ? "ascending" : "descending") : undefined;

  return (
    <Modal title={title} onClose={onClose}>
      <div class="details">
        <div class="details-bar">
          <label class="details-search">
            <span class="visually-hidden">{t("panels.search")}</span>
            <input
              type="search"
              value={input}
              placeholder={t("panels.search_placeholder", { column: t(report.column) })}
              onInput={(event) => setInput((event.target as HTMLInputElement).value)}
            />
          </label>
          <button type="button" class="button secondary small" onClick={exportCsv} disabled={exporting === "busy"}>
            {t("panels.export_csv")}
          </button>
        </div>
        {exporting instanceof Error ? <ErrorMessage error={exporting} /> : null}
        {answer.error && !answer.loading ? (
          <ErrorMessage error={answer.error} />
        ) : !answer.data ? (
          <Skeleton rows={10} />
        ) : rows.length === 0 ? (
          <p class="report-empty muted">{search ? t("panels.search_none", { search }) : t("panels.empty")}</p>
        ) : (
          <div class={answer.loading ? "details-scroll stale" : "details-scroll"}>
            <table class="data details-table">
              <thead>
                <tr>
                  <th aria-sort={sortState(report.dimension)} scope="col">
                    <button type="button" class="sort" onClick={() => sortBy(report.dimension)}>
                      {t(report.column)}
                      <SortMark state={sortState(report.dimension)} />
                    </button>
                  </th>
                  {columns.map(({ metric }) => (
                    <th class="number" key={metric} aria-sort={sortState(metric)} scope="col">
                      <span class="th-inner">
                        <MetricName metric={metric} />
                        {/* Revenue comes beside the rows (report.tsx), so rows are not sorted by it. */}
                        {isMoney(metric) ? null : (
                          <button type="button" class="sort" onClick={() => sortBy(metric)}>
                            <span class="visually-hidden">{t("panels.sort_by", { column: t(`metrics.name_${metric}`) })}</span>
                            <SortMark state={sortState(metric)} />
                          </button>
                        )}
                      </span>
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {rows.map((row, index) => {
                  const value = row.dimensions[0] ?? null;
                  const filter = rowFilter(report, value);
                  const pressed = isRowFiltered(view.state, filter);
                  return (
                    <tr key={`${index}\n${String(value)}`} class={pressed ? "filtered" : undefined}>
                      <td>
                        <div class="details-label">
                        {filter ? (
                          <button
                            type="button"
                            class="report-label"
                            aria-pressed={pressed}
                            title={rowLabel(report, value, lang)}
                            onClick={() => {
                              view.update(toggleRowFilter(view.state, filter));
                              onClose();
                            }}
                          >
                            <RowLabel report={report} value={value} view={view} />
                            <span class="visually-hidden">{t("panels.filter_action")}</span>
                          </button>
                        ) : (
                          <span class="report-label">
                            <RowLabel report={report} value={value} view={view} />
                          </span>
                        )}
                        <RowLink report={report} value={value} view={view} />
                        </div>
                      </td>
                      {columns.map(({ metric, index: at }) => (
                        <td class="number" key={metric}>
                          {formatMetric(metric, row.metrics[at])}
                        </td>
                      ))}
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        <div class="details-foot">
          <span class="muted">
            {typeof total === "number" ? t("panels.showing", { shown: formatNumber(rows.length), count: total }) : null}
          </span>
          {more.key === key && more.error ? <ErrorMessage error={more.error} /> : null}
          {typeof total === "number" && rows.length < total ? (
            <button type="button" class="button secondary small" onClick={loadMore} disabled={more.loading}>
              {more.loading ? t("common.loading") : t("panels.load_more")}
            </button>
          ) : null}
        </div>
      </div>
    </Modal>
  );
}

function isMoney(metric: string): boolean {
  return metric === "total_revenue" || metric === "average_revenue";
}

function SortMark({ state }: { state: "ascending" | "descending" | undefined }) {
  return (
    <span class={state ? "sort-mark active" : "sort-mark"} aria-hidden="true">
      {state === "ascending" ? "↑" : "↓"}
    </span>
  );
}
