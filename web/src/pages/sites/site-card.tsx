// One site in the list: its domain, a sparkline of its visitors, today's and current
// visitors. Each card loads its own numbers once it scrolls into view, through a shared
// limiter, so a slow site never holds up the others.
import { useEffect, useRef, useState } from "preact/hooks";
import { Link } from "../../components/link";
import { get, sitePath, type Site } from "../../lib/api";
import { addDays, todayIn } from "../../lib/dashboard-state";
import { formatCompact, formatNumber } from "../../lib/format";
import { t } from "../../lib/i18n";
import { allows } from "../../lib/session";
import { runStats, type StatsQuery } from "../../lib/stats";
import { createLimiter } from "./limiter";
import { lastBuckets, seriesOf, sparklinePath } from "./sparkline";

export type SparkRange = "24h" | "7d";

/** Requests of the whole list at once (a browser opens about six connections to a host). */
const limit = createLimiter(4);
/** How often the current visitors are asked again. */
const REALTIME_MS = 60_000;

interface Numbers {
  series: number[];
  today: number;
}

function seriesQuery(range: SparkRange, timezone: string): StatsQuery {
  if (range === "24h") {
    return { metrics: ["visitors"], date_range: "24h", dimensions: ["time:hour"], include: { time_labels: true } };
  }
  const today = todayIn(timezone);
  return { metrics: ["visitors"], date_range: [addDays(today, -6), today], dimensions: ["time:day"], include: { time_labels: true } };
}

async function loadNumbers(site: Site, range: SparkRange, signal: AbortSignal): Promise<Numbers> {
  const series = limit(() => runStats(site.domain, seriesQuery(range, site.timezone), signal), signal);
  // Over 24 hours the last bucket is only this hour: today's visitors are their own query.
  const today = range === "24h" ? limit(() => runStats(site.domain, { metrics: ["visitors"], date_range: "day" }, signal), signal) : null;
  // Should the series fail first, today's failure is not left unhandled.
  today?.catch(() => undefined);
  const answer = await series;
  const all = seriesOf(answer.meta.time_labels ?? [], answer.results);
  const values = range === "24h" ? lastBuckets(all, 24) : all;
  if (!today) return { series: values, today: values[values.length - 1] ?? 0 };
  const todayAnswer = await today;
  return { series: values, today: Number(todayAnswer.results[0]?.metrics[0] ?? 0) || 0 };
}

/** Whether the element has come near the screen (once true, stays true). */
function useSeen(element: { current: Element | null }): boolean {
  const [seen, setSeen] = useState(typeof IntersectionObserver === "undefined");
  useEffect(() => {
    if (seen || !element.current) return;
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) {
          setSeen(true);
          observer.disconnect();
        }
      },
      { rootMargin: "200px" },
    );
    observer.observe(element.current);
    return () => observer.disconnect();
  }, [seen]);
  return seen;
}

export function SiteCard({ site, range }: { site: Site; range: SparkRange }) {
  const card = useRef<HTMLLIElement>(null);
  const seen = useSeen(card);
  const [numbers, setNumbers] = useState<Numbers | null>(null);
  const [failed, setFailed] = useState<Error | null>(null);
  const [current, setCurrent] = useState<number | null>(null);

  useEffect(() => {
    if (!seen) return;
    const controller = new AbortController();
    setNumbers(null);
    setFailed(null);
    loadNumbers(site, range, controller.signal).then(
      (loaded) => !controller.signal.aborted && setNumbers(loaded),
      (error: unknown) => !controller.signal.aborted && setFailed(error instanceof Error ? error : new Error(String(error))),
    );
    return () => controller.abort();
  }, [seen, site.domain, site.timezone, range]);

  useEffect(() => {
    if (!seen) return;
    let controller = new AbortController();
    const ask = () => {
      controller = new AbortController();
      limit(() => get<{ visitors: number }>(sitePath(site.domain, "/realtime"), controller.signal), controller.signal).then(
        (now) => !controller.signal.aborted && setCurrent(now.visitors),
        () => {},
      );
    };
    ask();
    const timer = setInterval(() => {
      if (!document.hidden) {
        controller.abort();
        ask();
      }
    }, REALTIME_MS);
    return () => {
      clearInterval(timer);
      controller.abort();
    };
  }, [seen, site.domain]);

  const dashboard = `/sites/${encodeURIComponent(site.domain)}`;
  return (
    <li class="site-card card" ref={card} aria-busy={!numbers && !failed}>
      <div class="site-card-head">
        <span class="site-avatar" aria-hidden="true">
          {site.domain.charAt(0).toUpperCase()}
        </span>
        <Link href={dashboard} class="site-card-link">
          {site.domain}
        </Link>
        {allows(site.access, "manage") ? (
          <Link href={`${dashboard}/settings/general`} class="site-card-settings" aria-label={t("sites.settings_of", { domain: site.domain })} title={t("sites.settings")}>
            <GearIcon />
          </Link>
        ) : null}
      </div>
      {failed ? (
        <p class="site-card-failed error small" title={failed.message}>
          {t("sites.numbers_failed")}
        </p>
      ) : numbers ? (
        <Sparkline values={numbers.series} range={range} />
      ) : (
        <div class="skeleton skeleton-chart" />
      )}
      <div class="site-card-stats">
        <div class="site-card-today">
          {numbers ? (
            <strong class="site-card-number">{formatCompact(numbers.today)}</strong>
          ) : failed ? (
            <strong class="site-card-number">—</strong>
          ) : (
            <span class="skeleton skeleton-number" />
          )}
          <span class="muted small">{t("sites.today_label", { count: numbers?.today ?? 0 })}</span>
        </div>
        <span class="site-card-live" title={t("sites.current_hint")}>
          <span class={`live-dot ${current ? "on" : ""}`} aria-hidden="true" />
          {current === null ? <span class="skeleton skeleton-small" /> : t("sites.current", { count: current })}
        </span>
      </div>
    </li>
  );
}

const WIDTH = 240;
const HEIGHT = 48;

export function Sparkline({ values, range }: { values: number[]; range: SparkRange }) {
  const { line, area, max } = sparklinePath(values, WIDTH, HEIGHT);
  const total = values.reduce((sum, value) => sum + value, 0);
  const label = t(range === "24h" ? "sites.sparkline_24h" : "sites.sparkline_7d", { peak: formatNumber(max), total: formatNumber(total) });
  return (
    <svg class="sparkline" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} preserveAspectRatio="none" role="img" aria-label={label}>
      <title>{label}</title>
      <path class="sparkline-area" d={area} />
      <path class="sparkline-line" d={line} vector-effect="non-scaling-stroke" />
    </svg>
  );
}

function GearIcon() {
  return (
    <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">
      <circle cx="12" cy="12" r="3" />
      <path d="M19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 1-2.8 2.8l-.1-.1a1.7 1.7 0 0 0-1.8-.3 1.7 1.7 0 0 0-1 1.5V21a2 2 0 1 1-4 0v-.1a1.7 1.7 0 0 0-1.1-1.5 1.7 1.7 0 0 0-1.8.3l-.1.1a2 2 0 1 1-2.8-2.8l.1-.1a1.7 1.7 0 0 0 .3-1.8 1.7 1.7 0 0 0-1.5-1H3a2 2 0 1 1 0-4h.1a1.7 1.7 0 0 0 1.5-1.1 1.7 1.7 0 0 0-.3-1.8l-.1-.1a2 2 0 1 1 2.8-2.8l.1.1a1.7 1.7 0 0 0 1.8.3H9a1.7 1.7 0 0 0 1-1.5V3a2 2 0 1 1 4 0v.1a1.7 1.7 0 0 0 1 1.5 1.7 1.7 0 0 0 1.8-.3l.1-.1a2 2 0 1 1 2.8 2.8l-.1.1a1.7 1.7 0 0 0-.3 1.8V9a1.7 1.7 0 0 0 1.5 1H21a2 2 0 1 1 0 4h-.1a1.7 1.7 0 0 0-1.5 1z" />
    </svg>
  );
}
