// The main graph: the chosen metric over time buckets (uPlot), the comparison as a dashed
// line aligned bucket by bucket, the running bucket dashed, a hover legend, the interval
// switch and a CSV export; its numbers are also in a table for screen readers.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { ErrorMessage } from "../../components/status";
import { authHeaders } from "../../lib/api";
import { apiFilters, dateRange, intervalOf, intervalsFor, rangeOf, type DashboardState, type Interval } from "../../lib/dashboard-state";
import { formatMetric } from "../../lib/format";
import { currentLanguage, t } from "../../lib/i18n";
import { downloadCsv, useStats, type StatsQuery } from "../../lib/stats";
import type { DashboardProps } from "./context";
import { comparisonRange } from "./comparison";
import { rangeLabel } from "./range";
import { buildSeries, formatBucket, formatTick, nowIn, splitCurrent, tickPositions, type GraphSeries } from "./series";

const HEIGHT = 260;
const PHONE_HEIGHT = 200;

/** The metric the graph draws: realtime has visitors and pageviews only. */
export function graphMetric(state: DashboardState): string {
  if (state.period === "realtime" && state.metric !== "pageviews") return "visitors";
  return state.metric;
}

/** The graph's query of this period, and of the comparison's days. */
export function graphQueries(state: DashboardState, today: string): { current: StatsQuery; comparison: StatsQuery | null; interval: Interval } {
  const interval = intervalOf(state, today);
  const base = {
    metrics: [graphMetric(state)],
    dimensions: [`time:${interval}`],
    filters: apiFilters(state.filters),
    include: { time_labels: true, imports: true },
  };
  const range = comparisonRange(state, today);
  return {
    interval,
    current: { ...base, date_range: state.period === "realtime" ? "30m" : dateRange(state, today) },
    comparison: range ? { ...base, date_range: [range.from, range.to] } : null,
  };
}

export function Graph({ props }: { props: DashboardProps }) {
  const { state, today, site, refresh, update } = props;
  const metric = graphMetric(state);
  const queries = graphQueries(state, today);
  const current = useStats(site.domain, queries.current, refresh);
  const compared = useStats(site.domain, queries.comparison, refresh);
  const [downloadError, setDownloadError] = useState(false);
  const range = rangeOf(state, today);
  const live = typeof range === "string" || range.to >= today;
  const lang = currentLanguage();

  // The answer drawn is the one of this metric and interval (the one before stays while the
  // next loads only if it is of the same kind, so the axis never mixes units).
  const answeredMetric = (current.data?.query.metrics as string[] | undefined)?.[0];
  const answeredDimension = (current.data?.query.dimensions as string[] | undefined)?.[0];
  const usable = current.data && answeredMetric === metric && answeredDimension === `time:${queries.interval}`;
  const series = useMemo(() => {
    if (!usable || !current.data) return null;
    return buildSeries({
      metric,
      current: current.data,
      comparison: queries.comparison ? compared.data : null,
      now: nowIn(site.timezone),
      live,
      trimLeading: state.period === "all",
    });
  }, [current.data, compared.data, usable, queries.comparison !== null]);

  const intervals = intervalsFor(state, today);
  const metricName = t(`metrics.name_${metric}`);
  const summary = t("dashboard.graph_summary", {
    metric: metricName,
    interval: t(`dashboard.interval_${queries.interval}`).toLowerCase(),
    range: rangeLabel(state, today, lang),
  });

  return (
    <section class="graph" aria-label={summary}>
      <div class="graph-head">
        <h2 class="graph-title">
          {metricName}
          {current.loading || compared.loading ? <span class="updating" role="status">{t("dashboard.updating")}</span> : null}
        </h2>
        <div class="graph-tools">
          {intervals.length > 1 ? (
            <div class="segmented" role="group" aria-label={t("dashboard.interval")}>
              {intervals.map((interval) => (
                <button
                  type="button"
                  key={interval}
                  aria-pressed={interval === queries.interval}
                  onClick={() => update({ ...state, interval })}
                >
                  {t(`dashboard.interval_${interval}`)}
                </button>
              ))}
            </div>
          ) : null}
          <button
            type="button"
            class="icon-button csv-button"
            title={t("dashboard.download_csv")}
            aria-label={t("dashboard.download_csv")}
            onClick={() => {
              setDownloadError(false);
              downloadCsv(site.domain, queries.current, `${site.domain}-${metric}-${queries.interval}.csv`, authHeaders()).catch(() => setDownloadError(true));
            }}
          >
            <svg viewBox="0 0 20 20" width="18" height="18" aria-hidden="true">
              <path d="M10 3v9m0 0-3.5-3.5M10 12l3.5-3.5M4 14v2.5h12V14" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linecap="round" stroke-linejoin="round" />
            </svg>
          </button>
        </div>
      </div>
      {downloadError ? <p class="error" role="alert">{t("dashboard.download_failed")}</p> : null}
      {current.error ? <ErrorMessage error={current.error} /> : null}
      <Chart
        series={series}
        metric={metric}
        interval={queries.interval}
        loading={current.loading}
        onPick={
          // A day opens that day, a month that month (as Plausible's graph does).
          queries.interval === "day" || queries.interval === "month"
            ? (label) =>
                update({
                  ...state,
                  period: queries.interval === "day" ? "day" : "month",
                  date: label,
                  from: undefined,
                  to: undefined,
                  interval: null,
                  comparison: state.comparison === "custom" ? null : state.comparison,
                })
            : undefined
        }
      />
      {series ? <GraphTable series={series} metric={metric} interval={queries.interval} caption={summary} /> : null}
    </section>
  );
}

/** The colours of the theme now (the CSS variables). */
function themeColours() {
  const style = getComputedStyle(document.documentElement);
  const read = (name: string, fallback: string) => style.getPropertyValue(name).trim() || fallback;
  return {
    accent: read("--accent", "#4f46e5"),
    muted: read("--muted", "#59636e"),
    border: read("--border", "#e1e4e8"),
    text: read("--text", "#1b1f24"),
    font: read("--font", "system-ui"),
  };
}

/** A CSS colour (#rgb, #rrggbb or rgb()) with an alpha, for the canvas. */
export function withAlpha(colour: string, alpha: number): string {
  const hex = colour.match(/^#([0-9a-f]{3}|[0-9a-f]{6})$/i);
  if (hex) {
    const digits = hex[1].length === 3 ? [...hex[1]].map((d) => d + d).join("") : hex[1];
    const [r, g, b] = [0, 2, 4].map((at) => Number.parseInt(digits.slice(at, at + 2), 16));
    return `rgba(${r}, ${g}, ${b}, ${alpha})`;
  }
  const rgb = colour.match(/^rgba?\(([^)]+)\)$/i);
  if (rgb) {
    const [r, g, b] = rgb[1].split(/[\s,/]+/).filter(Boolean);
    return `rgba(${r}, ${g}, ${b}, ${alpha})`;
  }
  return colour;
}

function useThemeTick(): number {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const bump = () => setTick((value) => value + 1);
    window.addEventListener("hitkeep:theme", bump);
    const media = window.matchMedia?.("(prefers-color-scheme: dark)");
    media?.addEventListener("change", bump);
    return () => {
      window.removeEventListener("hitkeep:theme", bump);
      media?.removeEventListener("change", bump);
    };
  }, []);
  return tick;
}

function Chart({
  series,
  metric,
  interval,
  loading,
  onPick,
}: {
  series: GraphSeries | null;
  metric: string;
  interval: Interval;
  loading: boolean;
  onPick?: (label: string) => void;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [hover, setHover] = useState<{ index: number; left: number } | null>(null);
  const theme = useThemeTick();
  const lang = currentLanguage();
  const picker = useRef(onPick);
  picker.current = onPick;

  useEffect(() => {
    const element = box.current;
    if (!element || !series) return;
    const colours = themeColours();
    const phone = element.clientWidth < 560;
    const height = phone ? PHONE_HEIGHT : HEIGHT;
    const { settled, running } = splitCurrent(series.values, series.current);
    const xs = series.labels.map((_, index) => index);
    const data: uPlot.AlignedData = [xs, settled, running, series.compareValues ?? series.values.map(() => null)];
    const font = `12px ${colours.font}`;
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height,
      padding: [12, 24, 0, 0],
      legend: { show: false },
      cursor: { y: false, points: { size: 8 }, drag: { x: false, y: false } },
      select: { show: false, left: 0, top: 0, width: 0, height: 0 },
      scales: {
        x: { time: false, range: () => [0, Math.max(1, series.labels.length - 1)] },
        y: {
          range: (_self, _min, max) => {
            const top = Math.max(max ?? 0, ...(series.compareValues ?? []).map((value) => value ?? 0));
            if (metric === "bounce_rate" || metric === "conversion_rate") return [0, Math.min(100, Math.max(5, top * 1.15))];
            return [0, top > 0 ? top * 1.15 : 1];
          },
        },
      },
      axes: [
        {
          stroke: colours.muted,
          font,
          size: 30,
          gap: 4,
          grid: { show: false },
          ticks: { stroke: colours.border, width: 1, size: 4 },
          splits: (self) => tickPositions(series.labels.length, Math.max(2, Math.floor(self.bbox.width / devicePixelRatio / (interval === "month" ? 70 : 80)))),
          values: (_self, splits) => splits.map((index) => (series.labels[index] ? formatTick(series.labels[index], interval, lang) : "")),
        },
        {
          stroke: colours.muted,
          font,
          size: 56,
          grid: { stroke: colours.border, width: 1 },
          ticks: { show: false },
          values: (_self, splits) => splits.map((value) => formatMetric(metric, value, { compact: true })),
        },
      ],
      series: [
        {},
        {
          stroke: colours.accent,
          width: 2,
          fill: (self) => {
            const gradient = self.ctx.createLinearGradient(0, self.bbox.top, 0, self.bbox.top + self.bbox.height);
            gradient.addColorStop(0, withAlpha(colours.accent, 0.22));
            gradient.addColorStop(1, withAlpha(colours.accent, 0));
            return gradient;
          },
          points: { show: series.labels.length <= 2, size: 6, fill: colours.accent },
          spanGaps: false,
        },
        { stroke: colours.accent, width: 2, dash: [5, 4], points: { show: false }, spanGaps: false },
        { stroke: withAlpha(colours.muted, 0.7), width: 1.5, dash: [4, 4], points: { show: false }, spanGaps: false },
      ],
      hooks: {
        setCursor: [
          (self) => {
            const index = self.cursor.idx;
            setHover(index === null || index === undefined ? null : { index, left: self.valToPos(index, "x") });
          },
        ],
      },
    };
    plot.current?.destroy();
    const created = new uPlot(options, data, element);
    plot.current = created;
    const pick = () => {
      const index = created.cursor.idx;
      if (picker.current && index !== null && index !== undefined && series.labels[index] && series.values[index] !== null) picker.current(series.labels[index]);
    };
    created.over.addEventListener("click", pick);
    created.over.style.cursor = onPick ? "pointer" : "crosshair";
    const observer = new ResizeObserver(() => {
      const width = Math.max(200, element.clientWidth);
      const nextHeight = width < 560 ? PHONE_HEIGHT : HEIGHT;
      if (plot.current && (plot.current.width !== width || plot.current.height !== nextHeight)) plot.current.setSize({ width, height: nextHeight });
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
      plot.current?.destroy();
      plot.current = null;
      setHover(null);
    };
  }, [series, metric, interval, theme, lang, onPick !== undefined]);

  const point = hover && series && hover.index < series.labels.length ? hover.index : null;
  return (
    <div class={`chart ${loading ? "is-loading" : ""}`} aria-hidden="true">
      <div class="chart-canvas" ref={box} />
      {series && series.labels.length === 0 ? <p class="chart-empty muted">{t("dashboard.no_data")}</p> : null}
      {!series && loading ? (
        <div class="chart-empty">
          <span class="spinner-dot" />
        </div>
      ) : null}
      {series && point !== null ? <Legend series={series} index={point} left={hover?.left ?? 0} metric={metric} interval={interval} width={box.current?.clientWidth ?? 0} /> : null}
    </div>
  );
}

function Legend({ series, index, left, metric, interval, width }: { series: GraphSeries; index: number; left: number; metric: string; interval: Interval; width: number }) {
  const lang = currentLanguage();
  const compareLabel = series.compareLabels?.[index] ?? null;
  // Kept inside the chart: to the right of the cursor, or to its left near the right edge.
  const flip = left > width / 2;
  return (
    <div class="chart-legend" style={flip ? { right: `${Math.max(0, width - left - 48)}px` } : { left: `${left + 64}px` }}>
      <div class="legend-row">
        <span class="legend-swatch current" />
        <span class="legend-when">
          {formatBucket(series.labels[index], interval, lang)}
          {series.current === index ? <span class="muted"> ({t("dashboard.in_progress")})</span> : null}
        </span>
        <strong>{formatMetric(metric, series.values[index])}</strong>
      </div>
      {series.compareValues ? (
        <div class="legend-row">
          <span class="legend-swatch compare" />
          <span class="legend-when">{compareLabel ? formatBucket(compareLabel, interval, lang) : "—"}</span>
          <strong>{formatMetric(metric, series.compareValues[index])}</strong>
        </div>
      ) : null}
    </div>
  );
}

/** The graph's numbers, for screen readers. */
function GraphTable({ series, metric, interval, caption }: { series: GraphSeries; metric: string; interval: Interval; caption: string }) {
  const lang = currentLanguage();
  return (
    <table class="visually-hidden">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">{t("dashboard.bucket")}</th>
          <th scope="col">{t("dashboard.this_period")}</th>
          {series.compareValues ? <th scope="col">{t("dashboard.comparison_period")}</th> : null}
        </tr>
      </thead>
      <tbody>
        {series.labels.map((label, index) => (
          <tr key={label}>
            <th scope="row">
              {formatBucket(label, interval, lang)}
              {series.current === index ? ` (${t("dashboard.in_progress")})` : ""}
            </th>
            <td>{formatMetric(metric, series.values[index])}</td>
            {series.compareValues ? <td>{formatMetric(metric, series.compareValues[index])}</td> : null}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
