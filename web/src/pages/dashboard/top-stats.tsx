// The top stats: one card per metric with its value, its change against the comparison and
// the metric's definition; a card chooses the graph's metric. In realtime: who is on the site
// now and the pageviews of the last thirty minutes.
import { Tooltip } from "../../components/tooltip";
import { ErrorMessage } from "../../components/status";
import { currentLanguage, t } from "../../lib/i18n";
import { formatMetric, metricNumber } from "../../lib/format";
import { topStatsQuery, useStats } from "../../lib/stats";
import type { DashboardProps } from "./context";
import { changeMagnitude, computeChange, describeChange } from "./comparison";
import { hasGoalFilter } from "./filters";
import type { Realtime } from "./realtime";

/** The metrics of the top stats, in order; the conversion rate joins them under a goal filter. */
export const TOP_METRICS = ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration"];

/** The metrics of a view's top stats. */
export function topMetrics(props: DashboardProps): string[] {
  return hasGoalFilter(props.state) ? [...TOP_METRICS, "conversion_rate"] : TOP_METRICS;
}

/** Metrics that are averages or rates of visits. */
const AVERAGES = new Set(["views_per_visit", "bounce_rate", "visit_duration", "conversion_rate"]);

interface Card {
  metric: string;
  name: string;
  help: string;
  value: unknown;
  compared?: unknown;
  change?: number | null;
  /** Whether clicking it draws it in the graph. */
  graphable: boolean;
}

export function TopStats({ props, realtime }: { props: DashboardProps; realtime: Realtime | null }) {
  const { state, today, site, refresh } = props;
  const live = state.period === "realtime";
  const metrics = topMetrics(props);
  const loaded = useStats(site.domain, live ? null : topStatsQuery(state, today, metrics), refresh);

  let cards: Card[];
  if (live) {
    cards = [
      { metric: "visitors", name: t("dashboard.realtime_visitors"), help: t("dashboard.realtime_visitors_help"), value: realtime?.visitors ?? null, graphable: true },
      { metric: "pageviews", name: t("dashboard.realtime_pageviews"), help: t("dashboard.realtime_pageviews_help"), value: realtime?.pageviews ?? null, graphable: true },
    ];
  } else {
    const row = loaded.data?.results[0];
    // The answer of the query asked before keeps its own metrics while a new one loads.
    const answered = (loaded.data?.query.metrics as string[] | undefined) ?? metrics;
    // A comparison period without visits has no averages or rates to compare with.
    const visitsAt = answered.indexOf("visits");
    const comparedVisits = row?.comparison && visitsAt >= 0 ? metricNumber(row.comparison.metrics[visitsAt]) : null;
    cards = metrics.map((metric) => {
      const at = answered.indexOf(metric);
      const value = row && at >= 0 ? row.metrics[at] : loaded.data ? 0 : null;
      const compared = row?.comparison && at >= 0 ? row.comparison.metrics[at] : undefined;
      const empty = comparedVisits === 0 && AVERAGES.has(metric);
      const change =
        row?.comparison && at >= 0 && !empty
          ? (row.comparison.change[at] ?? computeChange(metric, metricNumber(value), metricNumber(compared)))
          : undefined;
      return {
        metric,
        name: t(`metrics.name_${metric}`),
        help: t(`metrics.${metric}`),
        value,
        compared: empty ? null : compared,
        change,
        graphable: metric !== "conversion_rate",
      };
    });
  }

  return (
    <div class={`top-stats ${loaded.loading ? "is-loading" : ""}`} aria-busy={loaded.loading}>
      <h2 class="visually-hidden">{t("dashboard.top_stats")}</h2>
      <ul class="stat-list">
        {cards.map((card) => (
          <StatCard key={card.metric} card={card} selected={state.metric === card.metric} onSelect={() => props.update({ ...state, metric: card.metric })} />
        ))}
      </ul>
      {!live && loaded.data?.meta.imports_included === true ? (
        <p class="imports-note">{t("dashboard.imports_included")}</p>
      ) : null}
      {loaded.error && !live ? <ErrorMessage error={loaded.error} /> : null}
    </div>
  );
}

function StatCard({ card, selected, onSelect }: { card: Card; selected: boolean; onSelect: () => void }) {
  const lang = currentLanguage();
  const change = describeChange(card.metric, card.change);
  const changeText = change
    ? change.unit === "points"
      ? t("dashboard.change_points", { count: Math.abs(change.value), value: changeMagnitude(change, lang) })
      : changeMagnitude(change, lang)
    : "";
  const comparedText = card.compared !== undefined ? t("dashboard.comparison_value", { value: formatMetric(card.metric, card.compared) }) : undefined;
  const valueText = card.value === null ? "—" : formatMetric(card.metric, card.value, { compact: true });
  const fullValue = card.value === null ? undefined : formatMetric(card.metric, card.value);
  return (
    <li class={`stat ${selected && card.graphable ? "selected" : ""}`} onClick={card.graphable ? onSelect : undefined}>
      <Tooltip text={card.help}>
        <span class="stat-name">{card.name}</span>
      </Tooltip>
      {card.graphable ? (
        <button
          type="button"
          class="stat-value"
          aria-pressed={selected}
          title={t("dashboard.show_in_graph", { metric: card.name })}
          onClick={(event) => {
            event.stopPropagation();
            onSelect();
          }}
        >
          <Value text={valueText} full={fullValue} />
        </button>
      ) : (
        <span class="stat-value">
          <Value text={valueText} full={fullValue} />
        </span>
      )}
      {change ? (
        <span class={`stat-change ${change.sense}`} title={comparedText}>
          <span aria-hidden="true">{change.direction === "up" ? "↑" : change.direction === "down" ? "↓" : "→"}</span>{" "}
          <span aria-hidden="true">{changeText}</span>
          <span class="visually-hidden">
            {change.direction === "flat"
              ? t("dashboard.change_flat")
              : t(change.direction === "up" ? "dashboard.change_up" : "dashboard.change_down", { change: changeText })}
            {comparedText ? `, ${comparedText}` : ""}
          </span>
        </span>
      ) : card.compared !== undefined ? (
        <span class="stat-change neutral" title={comparedText}>
          <span aria-hidden="true">—</span>
          <span class="visually-hidden">{comparedText}</span>
        </span>
      ) : null}
    </li>
  );
}

function Value({ text, full }: { text: string; full?: string }) {
  return (
    <span class="stat-number" title={full && full !== text ? full : undefined}>
      {text}
    </span>
  );
}
