// A site's dashboard: the state comes from the URL (lib/dashboard-state.ts) and every change
// goes back to it, so a copied URL opens the same view. The top stats, the graph and the
// panels each ask their own queries as soon as they are drawn, all at once.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { Link } from "../../components/link";
import { parseState, serializeState, todayIn, type DashboardState } from "../../lib/dashboard-state";
import { t } from "../../lib/i18n";
import { navigate, useLocation } from "../../lib/router";
import { useSession } from "../../lib/session";
import type { DashboardProps } from "./context";
import { canCompare, withComparison } from "./comparison";
import { FilterBar } from "./filter-bar";
import { Graph } from "./graph";
import { Panels } from "./panels/panels";
import { applyPreset, COMPARE_KEY, CUSTOM_KEY, isShortcut, PRESETS, stepOf } from "./range";
import { ComparisonMenu, RangePicker } from "./range-picker";
import { useRealtime } from "./realtime";
import { SiteHeader } from "./site-header";
import { TopStats } from "./top-stats";
import "./dashboard.css";

export function DashboardPage({ domain }: { domain: string }) {
  const session = useSession();
  const site = session.sites.find((candidate) => candidate.domain === domain);
  if (!site) {
    return (
      <main class="page narrow">
        <h1>{t("common.not_found")}</h1>
        <p>{t("dashboard.unknown_site", { domain })}</p>
        {session.account ? (
          <p>
            <Link href="/">{t("dashboard.back_to_sites")}</Link>
          </p>
        ) : null}
      </main>
    );
  }
  return <Dashboard key={site.domain} domain={site.domain} timezone={site.timezone} access={site.access ?? "view"} />;
}

/** Today in the site's zone, moving on at its midnight while the page stays open. */
function useToday(timeZone: string): string {
  const [today, setToday] = useState(() => todayIn(timeZone));
  useEffect(() => {
    setToday(todayIn(timeZone));
    const timer = setInterval(() => setToday(todayIn(timeZone)), 60_000);
    return () => clearInterval(timer);
  }, [timeZone]);
  return today;
}

function Dashboard({ domain, timezone, access }: { domain: string; timezone: string; access: string }) {
  const session = useSession();
  const location = useLocation();
  const today = useToday(timezone);
  const query = location.params.toString();
  const state = useMemo(() => parseState(new URLSearchParams(query)), [query]);
  const shared = session.share !== null;
  const basePath = session.share ? `/share/${encodeURIComponent(session.share.code)}` : `/sites/${encodeURIComponent(domain)}`;
  const [refresh, setRefresh] = useState(0);
  const [rangeOpen, setRangeOpen] = useState<"closed" | "menu" | "custom">("closed");
  const [compareOpen, setCompareOpen] = useState(false);

  const update = (next: DashboardState) => {
    const search = serializeState(next);
    navigate(`${basePath}${search ? `?${search}` : ""}`);
  };

  // Each realtime update reloads the realtime view (its graph and panels).
  const period = useRef(state.period);
  period.current = state.period;
  const realtime = useRealtime(domain, shared, () => {
    if (period.current === "realtime") setRefresh((value) => value + 1);
  });

  // Minute buckets move on even when nobody comes: the realtime view reloads each minute too.
  useEffect(() => {
    if (state.period !== "realtime") return;
    const timer = setInterval(() => setRefresh((value) => value + 1), 60_000);
    return () => clearInterval(timer);
  }, [state.period]);

  const props: DashboardProps = {
    site: { domain, timezone, access },
    state,
    today,
    update,
    refresh,
    shared,
  };

  // Plausible's keys: a letter per range, c custom, x compare, ← → step a day or a month.
  const latest = useRef({ state, today, update });
  latest.current = { state, today, update };
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (!isShortcut(event) || document.querySelector("dialog[open]")) return;
      const { state: now, today: day, update: go } = latest.current;
      const key = event.key.toLowerCase();
      const preset = PRESETS.find((candidate) => candidate.key === key);
      if (event.shiftKey && key !== "arrowleft" && key !== "arrowright") return;
      if (preset) {
        event.preventDefault();
        setRangeOpen("closed");
        go(applyPreset(now, preset.id, day));
      } else if (key === CUSTOM_KEY) {
        event.preventDefault();
        setCompareOpen(false);
        setRangeOpen("custom");
      } else if (key === COMPARE_KEY && canCompare(now)) {
        event.preventDefault();
        go(withComparison(now, now.comparison ? null : "previous_period"));
      } else if (key === "arrowleft" || key === "arrowright") {
        const step = stepOf(now, day);
        const target = key === "arrowleft" ? step?.previous : step?.next;
        if (target) {
          event.preventDefault();
          go(target);
        }
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);

  return (
    <main class="page dashboard">
      <SiteHeader props={props} realtime={realtime} basePath={basePath} />
      <div class="dash-controls">
        <FilterBar props={props} />
        <div class="dash-range">
          <RangePicker
            props={props}
            open={rangeOpen}
            onOpen={(next) => {
              if (next !== "closed") setCompareOpen(false);
              setRangeOpen(next);
            }}
          />
          <ComparisonMenu
            props={props}
            open={compareOpen}
            onOpen={(next) => {
              if (next) setRangeOpen("closed");
              setCompareOpen(next);
            }}
          />
        </div>
      </div>
      <section class="card dash-main">
        <TopStats props={props} realtime={realtime} />
        <Graph props={props} />
      </section>
      <Panels {...props} />
    </main>
  );
}
