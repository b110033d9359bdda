// What the browser tests stand on, kept apart so that other tests can reuse it: a fixture
// server that serves the pages in test/fixtures/ and hk.js and records every event, and a
// Chromium launcher. Point the pages at a real Hitkeep server with
// `startFixtureServer({ tracker, api })`: they then load that server's hk.js and send to
// its /api/event, and the recorder here sees nothing.
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";

import { chromium } from "playwright-core";

const fixtures = new URL("./fixtures/", import.meta.url);
const dist = new URL("../dist/hk.js", import.meta.url);

/**
 * The hosts the pages use. Chromium resolves them all to 127.0.0.1 (see launchBrowser), so
 * the site, the tracker and an outbound target are three origins, as in production, and
 * the site is not "local" to hk.js.
 */
export const SITE = "site.test";
export const STATS = "stats.test";
export const OTHER = "other.test";

/** Debian's Chromium; CHROMIUM overrides. Tests never download a browser. */
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

/** Launches headless Chromium with the test hosts mapped to the loopback address. */
export function launchBrowser(options = {}) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's (apt-get install chromium) or set CHROMIUM`);
  }
  const rules = [SITE, STATS, OTHER].map((host) => `MAP ${host} 127.0.0.1`).join(", ");
  return chromium.launch({
    executablePath: CHROMIUM,
    ...options,
    args: [`--host-resolver-rules=${rules}`, ...(options.args || [])],
  });
}

/**
 * Starts the fixture server on 127.0.0.1 and a free port.
 *
 * - `GET /r/<run>/fixtures/<name>.html`: a page of test/fixtures/, with `{{SRC}}` replaced
 *   by the tracker's URL, `{{API}}` by a `data-api` attribute when `api` is given, and
 *   `{{OTHER}}` by `http://other.test:<port>/r/<run>` (an outbound target). `<run>` is any
 *   token; events carry the page URL, so each test reads only its own.
 * - `GET /r/<run>/landing` and `/r/<run>/files/<name>`: plain targets for links.
 * - `GET /hk.js`: dist/hk.js, read on each request.
 * - `POST /api/event`: recorded, answered `202` with `text/plain` and CORS headers, as the
 *   Hitkeep edge does; `OPTIONS` answers a CORS preflight (hk.js never needs one).
 *
 * @param {{ tracker?: string, api?: string }} [options] the tracker URL (default: this
 *   server's `http://stats.test:<port>/hk.js`) and an events endpoint for `data-api`.
 */
export async function startFixtureServer({ tracker, api } = {}) {
  /** @type {{ host: string, path: string, contentType: string, origin: string, body: string, event: any }[]} */
  const requests = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const cors = {
      "access-control-allow-origin": "*",
      "access-control-allow-methods": "POST, OPTIONS",
      "access-control-allow-headers": "content-type",
    };
    if (url.pathname === "/api/event" && req.method === "OPTIONS") {
      res.writeHead(204, cors).end();
      return;
    }
    if (url.pathname === "/api/event" && req.method === "POST") {
      const chunks = [];
      req.on("data", (chunk) => chunks.push(chunk));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        let event;
        try {
          event = JSON.parse(body);
        } catch {
          event = undefined;
        }
        requests.push({
          host: req.headers.host,
          path: url.pathname,
          contentType: req.headers["content-type"] || "",
          origin: req.headers.origin || "",
          body,
          event,
        });
        res.writeHead(event ? 202 : 400, { ...cors, "content-type": "text/plain; charset=utf-8" });
        res.end(event ? "ok" : "invalid_json");
      });
      return;
    }
    if (url.pathname === "/hk.js") {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-store" });
      res.end(readFileSync(dist));
      return;
    }
    const match = /^\/r\/([\w-]+)\/(fixtures\/([\w-]+\.html)|landing|files\/[\w.-]+)$/.exec(url.pathname);
    if (req.method === "GET" && match) {
      const [, run, target, fixture] = match;
      if (fixture) {
        let html;
        try {
          html = readFileSync(new URL(fixture, fixtures), "utf8");
        } catch {
          res.writeHead(404).end();
          return;
        }
        html = html
          .replaceAll("{{SRC}}", tracker || `http://${STATS}:${port}/hk.js`)
          .replaceAll("{{API}}", api ? `data-api="${api}"` : "")
          .replaceAll("{{OTHER}}", `http://${OTHER}:${port}/r/${run}`);
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html);
      } else {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        res.end(`<!doctype html><title>${target}</title><p>${target}</p>`);
      }
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found");
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();

  /** The recorded events of one run (matched by the page URL), in arrival order. */
  const events = (run) => requests.filter((r) => r.event?.u?.includes(`/r/${run}/`));

  return {
    port,
    requests,
    events,
    /** A new run token: a prefix of page paths that keeps each test's events apart. */
    run: () => randomUUID().slice(0, 8),
    /** The URL of fixture `name` (`pageview.html`) in run `run`, on `host`. */
    url: (run, name, host = SITE) => `http://${host}:${port}/r/${run}/fixtures/${name}`,
    /** The URL of a plain page on `host`, for links and referrers. */
    landing: (run, host = OTHER) => `http://${host}:${port}/r/${run}/landing`,
    /**
     * Waits until run `run` has at least `count` events matching `filter`, and returns all of
     * its matching events; fails after `timeout` ms with what did arrive.
     */
    async waitFor(run, count = 1, filter = () => true, timeout = 5000) {
      const found = () => events(run).filter((r) => filter(r.event));
      const deadline = Date.now() + timeout;
      while (found().length < count) {
        if (Date.now() > deadline) {
          const seen = JSON.stringify(events(run).map((r) => r.event));
          throw new Error(`run ${run}: expected ${count} matching events, got ${found().length}; all: ${seen}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return found();
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
