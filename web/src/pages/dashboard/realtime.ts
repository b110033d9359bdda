// Who is on the site now, kept live: the server-sent events stream when the browser can open
// it with the viewer's credentials, else a poll of the same numbers every ten seconds.
import { useEffect, useRef, useState } from "preact/hooks";
import { authHeaders, get, sitePath } from "../../lib/api";

/** `GET /api/sites/{domain}/realtime` and each `event: realtime` of its stream. */
export interface Realtime {
  /** Visitors in the last five minutes. */
  visitors: number;
  /** Pageviews in the last thirty minutes. */
  pageviews: number;
  pages: [string, number][];
  sources: [string, number][];
  at_ms: number;
}

/** How often the poll asks, when there is no stream. */
export const POLL_MS = 10_000;

/**
 * How to stay live. `EventSource` sends cookies but cannot send headers, so a share link's
 * visitor (whose credential is the `X-Hitkeep-Share` header) polls; so does a browser without
 * `EventSource`, and a stream the server refused or closed for good.
 */
export function liveMode(options: { shared: boolean; hasEventSource: boolean; streamFailed: boolean }): "stream" | "poll" {
  if (options.shared || !options.hasEventSource || options.streamFailed) return "poll";
  return "stream";
}

/** Parses an event's data; null when it is not a realtime update. */
export function parseRealtime(data: string): Realtime | null {
  try {
    const value = JSON.parse(data) as Partial<Realtime>;
    if (typeof value.visitors !== "number" || typeof value.pageviews !== "number") return null;
    return {
      visitors: value.visitors,
      pageviews: value.pageviews,
      pages: Array.isArray(value.pages) ? value.pages : [],
      sources: Array.isArray(value.sources) ? value.sources : [],
      at_ms: typeof value.at_ms === "number" ? value.at_ms : Date.now(),
    };
  } catch {
    return null;
  }
}

/**
 * The site's realtime numbers, live; `onUpdate` is called with each new one. The poll pauses
 * while the page is hidden and asks at once when it is shown again.
 */
export function useRealtime(domain: string, shared: boolean, onUpdate?: (now: Realtime) => void): Realtime | null {
  const [now, setNow] = useState<Realtime | null>(null);
  const [streamFailed, setStreamFailed] = useState(false);
  const callback = useRef(onUpdate);
  callback.current = onUpdate;
  const mode = liveMode({ shared, hasEventSource: typeof EventSource !== "undefined", streamFailed });

  useEffect(() => {
    setNow(null);
  }, [domain]);

  useEffect(() => {
    const accept = (value: Realtime) => {
      setNow(value);
      callback.current?.(value);
    };
    if (mode === "stream") {
      const source = new EventSource(sitePath(domain, "/realtime/stream"));
      let opened = false;
      source.addEventListener("open", () => {
        opened = true;
      });
      source.addEventListener("realtime", (event) => {
        const value = parseRealtime((event as MessageEvent<string>).data);
        if (value) accept(value);
      });
      source.addEventListener("error", () => {
        // The browser reconnects a stream that ended (they last 15 minutes); one that never
        // opened (refused: too many streams, no access) or that it gave up on is polled instead.
        if (source.readyState === EventSource.CLOSED || !opened) {
          source.close();
          setStreamFailed(true);
        }
      });
      return () => source.close();
    }
    // Polling (a share link, say, whose credential EventSource cannot send as a header).
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let controller: AbortController | null = null;
    const ask = async () => {
      clearTimeout(timer);
      if (stopped) return;
      if (document.visibilityState !== "hidden") {
        controller = new AbortController();
        try {
          const value = await get<Realtime>(sitePath(domain, "/realtime"), controller.signal);
          if (!stopped) accept(value);
        } catch {
          // A failed poll keeps the last numbers; the next one tries again.
        }
      }
      if (!stopped) timer = setTimeout(ask, POLL_MS);
    };
    const shown = () => {
      if (document.visibilityState === "visible") void ask();
    };
    void ask();
    document.addEventListener("visibilitychange", shown);
    return () => {
      stopped = true;
      clearTimeout(timer);
      controller?.abort();
      document.removeEventListener("visibilitychange", shown);
    };
  }, [domain, mode, authHeaders()["x-hitkeep-share"]]);

  return now;
}
