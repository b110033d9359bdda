// The tracking snippet of a site and the check that its first event arrived: shown after a
// site is added and on its general settings (a site added on the command line, too).
import { useEffect, useState } from "preact/hooks";
import { Link } from "../../components/link";
import { get, sitePath } from "../../lib/api";
import { currentLanguage, t } from "../../lib/i18n";
import { CopyBlock } from "./forms";
import { trackingSnippet } from "./snippet";
import { timeAgo } from "./when";

/** How often the check asks, while the page is visible. */
const POLL_MS = 3000;

export function TrackingSnippet({ domain }: { domain: string }) {
  return (
    <div class="tracking">
      <p>{t("settings.snippet_intro")}</p>
      <CopyBlock text={trackingSnippet(domain, window.location.origin)} label={t("settings.snippet_label")} />
      <p class="muted small">{t("settings.snippet_hint")}</p>
    </div>
  );
}

/** Waiting; the first event came while waiting; or events were there from the start. */
type Check = "waiting" | "arrived" | "tracking";

interface NewestEvent {
  hit?: { ts?: number; path?: string };
}

/**
 * Waits for the site's first event: asks for its newest event (the cheapest question) every
 * few seconds until there is one.
 */
export function FirstHitCheck({ domain, showDashboardLink = true }: { domain: string; showDashboardLink?: boolean }) {
  const [check, setCheck] = useState<Check>("waiting");
  const [problem, setProblem] = useState<string | null>(null);
  const [newest, setNewest] = useState<NewestEvent | null>(null);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let controller: AbortController | null = null;
    let first = true;
    const ask = async () => {
      if (stopped) return;
      if (document.hidden) {
        timer = setTimeout(ask, POLL_MS);
        return;
      }
      controller = new AbortController();
      try {
        const events = await get<NewestEvent[]>(sitePath(domain, "/events?limit=1"), controller.signal);
        if (stopped) return;
        setProblem(null);
        if (events.length > 0) {
          setNewest(events[0]);
          setCheck(first ? "tracking" : "arrived");
          return;
        }
        first = false;
      } catch (error) {
        if (stopped) return;
        setProblem(error instanceof Error ? error.message : String(error));
      }
      timer = setTimeout(ask, POLL_MS);
    };
    setCheck("waiting");
    setNewest(null);
    void ask();
    return () => {
      stopped = true;
      clearTimeout(timer);
      controller?.abort();
    };
  }, [domain]);
  return (
    <div class={`first-hit ${check === "waiting" ? "waiting" : "arrived"}`} role="status" aria-live="polite">
      <span class="first-hit-dot" aria-hidden="true" />
      <div>
        {check !== "waiting" ? (
          <>
            <strong>{check === "arrived" ? t("settings.first_hit_arrived") : t("settings.tracking_works")}</strong>
            {showDashboardLink ? (
              <>
                {" "}
                <Link href={`/sites/${encodeURIComponent(domain)}`}>{t("settings.open_dashboard")}</Link>
              </>
            ) : null}
            {newest?.hit?.ts ? (
              <span class="muted small block">
                {t("settings.newest_event", { path: newest.hit.path || "/", when: timeAgo(newest.hit.ts, Date.now(), currentLanguage()) })}
              </span>
            ) : null}
          </>
        ) : (
          <>
            <strong>{t("settings.first_hit_waiting")}</strong>
            <span class="muted small block">{problem ? t("settings.first_hit_problem", { problem }) : t("settings.first_hit_hint")}</span>
          </>
        )}
      </div>
    </div>
  );
}
