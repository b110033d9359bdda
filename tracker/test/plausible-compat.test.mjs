// Plausible's official npm tracker (@plausible-analytics/tracker, pinned in package.json)
// against a real `hitkeep serve`: a site that uses it moves to Hitkeep by changing one URL,
// its `endpoint`. A page script, bundled here with esbuild as a site would bundle it, calls
// `init({ domain, endpoint })` and `track(...)`; Chromium runs it; the tests assert what the
// server stored, read back with `hitkeep events --json`. Needs the hitkeep binary (see
// hitkeep.mjs): run `cargo build -p hitkeep` first, or set HK_BIN.
//
// The tracker skips browsers that say they are automated (`navigator.webdriver`, which
// Playwright's Chromium sets), unless `captureOnLocalhost: true` (documented as "capture
// events on localhost"; in 0.4.6 the same switch turns off its automation check too). The
// test pages set it; a page without it sends nothing, which a test below shows.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";

import { build } from "esbuild";

import { launchBrowser, OTHER, SITE, STATS } from "./harness.mjs";
import { DESKTOP_CHROME, startHitkeep } from "./hitkeep.mjs";

const trackerVersion = JSON.parse(
  readFileSync(new URL("../node_modules/@plausible-analytics/tracker/package.json", import.meta.url), "utf8"),
).version;

/**
 * The site's own code, as its README shows it. `init` sends the first pageview (its
 * `autoCapturePageviews` default) and follows `history.pushState`; the page's inline script
 * sets `window.plausibleTestOptions` (the `captureOnLocalhost` above) before this runs.
 */
const pageScript = `
import { init, track } from "@plausible-analytics/tracker";

init({
  domain: ${JSON.stringify(SITE)},
  endpoint: HITKEEP_ENDPOINT,
  outboundLinks: true,
  logging: false,
  ...window.plausibleTestOptions,
});

track("Purchase", {
  props: { plan: "pro", seats: "3" },
  revenue: { amount: 15.99, currency: "USD" },
  callback: (result) => { window.purchaseResult = result; },
});
track("Video Autoplay", { interactive: false });
`;

let hitkeep;
let browser;
let site;

before(async () => {
  hitkeep = await startHitkeep({ sites: [SITE] });
  const endpoint = `http://${STATS}:${hitkeep.port}/api/event`;
  const bundled = await build({
    stdin: { contents: pageScript, resolveDir: fileURLToPath(new URL(".", import.meta.url)), loader: "js" },
    bundle: true,
    format: "iife",
    target: ["es2020"],
    write: false,
    logLevel: "warning",
    define: { HITKEEP_ENDPOINT: JSON.stringify(endpoint) },
  });
  const appJs = bundled.outputFiles[0].text;

  // The site: /r/<run>/<page> is a page of the app (any path, for the SPA), /app.js the
  // bundle, /r/<run>/landing an outbound target on other.test.
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    if (url.pathname === "/app.js") {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" }).end(appJs);
      return;
    }
    const match = /^\/r\/([\w-]+)\/(.*)$/.exec(url.pathname);
    if (!match) {
      res.writeHead(404).end();
      return;
    }
    const [, run, rest] = match;
    const options = url.searchParams.has("as-installed") ? {} : { captureOnLocalhost: true };
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${rest}</title>
<script>window.plausibleTestOptions = ${JSON.stringify(options)}</script>
<script src="/app.js"></script>
</head><body>
<a id="out" href="http://${OTHER}:${port()}/r/${run}/landing">Outbound</a>
</body></html>`);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = () => server.address().port;
  site = {
    port: port(),
    url: (run, path) => `http://${SITE}:${port()}/r/${run}/${path}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
  browser = await launchBrowser();
});

after(async () => {
  await Promise.allSettled([browser?.close(), site?.close()]);
  if (hitkeep) {
    const exit = await hitkeep.stop();
    assert.deepEqual(exit, { code: 0, signal: null }, `hitkeep serve's exit after SIGTERM\n${hitkeep.log()}`);
  }
});

const newRun = () => randomUUID().slice(0, 8);
const inRun = (run) => (event) => event.hit.path.startsWith(`/r/${run}/`);

async function open() {
  const context = await browser.newContext({ userAgent: DESKTOP_CHROME });
  const sent = [];
  context.on("request", (request) => {
    if (request.url().endsWith("/api/event")) sent.push(request.postData());
  });
  return { context, page: await context.newPage(), sent };
}

async function stored(run, filter = () => true, count = 1) {
  const found = await hitkeep.waitForStored(SITE, (e) => inRun(run)(e) && filter(e.hit), { count });
  return found.map((e) => e.hit);
}

describe(`@plausible-analytics/tracker ${trackerVersion} against hitkeep serve`, { timeout: 60_000 }, () => {
  test("a pageview and custom events with props, revenue and interactive: false are stored", async () => {
    const run = newRun();
    const { context, page } = await open();
    await page.goto(site.url(run, "pricing?utm_source=newsletter&utm_medium=email&utm_campaign=spring&secret=1"));
    const hits = await stored(run, (h) => h.name !== "engagement", 3);
    // Plausible's callback gets the endpoint's answer: the Events API's 202.
    assert.deepEqual(await page.evaluate(() => window.purchaseResult), { status: 202 });
    await context.close();

    const byName = Object.fromEntries(hits.map((h) => [h.name, h]));
    assert.deepEqual(Object.keys(byName).sort(), ["Purchase", "Video Autoplay", "pageview"]);
    for (const hit of hits) {
      assert.equal(hit.domain, SITE);
      assert.equal(hit.hostname, SITE);
      assert.equal(hit.path, `/r/${run}/pricing`, "Plausible sends the whole URL; the query string is not stored");
      assert.deepEqual(hit.utm, { source: "newsletter", medium: "email", campaign: "spring" });
      assert.equal(hit.channel, "email");
      assert.equal(hit.browser, "Chrome");
      assert.equal(hit.device, "desktop");
    }
    assert.equal(byName.pageview.kind, "pageview");
    assert.equal(byName.pageview.interactive, true);
    assert.equal(byName.Purchase.kind, "custom");
    assert.deepEqual(byName.Purchase.props, [
      ["plan", "pro"],
      ["seats", "3"],
    ]);
    assert.deepEqual(byName.Purchase.revenue, { amount_micros: 15_990_000, currency: "USD" });
    assert.equal(byName.Purchase.interactive, true);
    assert.equal(byName["Video Autoplay"].interactive, false);
    assert.ok(!JSON.stringify(hits).includes("secret"));
  });

  test("single-page navigation (pushState) and outbound links are stored under Plausible's names", async () => {
    const run = newRun();
    const { context, page } = await open();
    await page.goto(site.url(run, "home"));
    await stored(run, (h) => h.name === "pageview");
    await page.evaluate(() => history.pushState({}, "", "docs?tab=api"));
    const [docs] = await stored(run, (h) => h.name === "pageview" && h.path.endsWith("/docs"));
    assert.equal(docs.kind, "pageview");
    const landing = `http://${OTHER}:${site.port}/r/${run}/landing`;
    await Promise.all([page.waitForURL(landing), page.click("#out")]);
    const [outbound] = await stored(run, (h) => h.name === "Outbound Link: Click");
    await context.close();
    assert.equal(outbound.path, `/r/${run}/docs`);
    assert.deepEqual(outbound.props, [["url", landing]]);
  });

  test("installed without captureOnLocalhost, the tracker sends nothing from an automated browser", async () => {
    const run = newRun();
    const { context, page, sent } = await open();
    await page.goto(site.url(run, "home?as-installed"));
    await page.waitForFunction(() => typeof window.plausible === "function");
    await page.evaluate(() => new Promise((resolve) => window.plausible("Probe", { callback: resolve })));
    await context.close();
    assert.deepEqual(sent, []);
  });

  test(
    "Plausible's engagement events (time on page, scroll depth) are stored as their own kind",
    async () => {
      const run = newRun();
      const { context, page, sent } = await open();
      await page.goto(site.url(run, "article"));
      await stored(run, (h) => h.name === "pageview");
      // Moving to another page sends the engagement event of the one left (so does hiding
      // the tab or leaving the window), then the next pageview.
      const engagement = page.waitForResponse(
        (response) => response.url().endsWith("/api/event") && response.request().postData().includes('"engagement"'),
        { timeout: 5000 },
      );
      await page.evaluate(() => history.pushState({}, "", "next"));
      await engagement; // accepted by the server before the sentinel is sent
      await page.evaluate(() => window.plausible("Sentinel"));
      await stored(run, (h) => h.name === "Sentinel");
      await context.close();
      assert.ok(
        sent.some((body) => JSON.parse(body).n === "engagement"),
        `the tracker sent an engagement event: ${JSON.stringify(sent)}`,
      );
      const hits = (await hitkeep.events(SITE)).filter(inRun(run)).map((e) => e.hit);
      const engagements = hits.filter((h) => h.name === "engagement");
      assert.equal(engagements.length, 1, JSON.stringify(hits));
      const [measured] = engagements;
      // Never a goal (custom), never the end of a bounce (interactive).
      assert.equal(measured.kind, "engagement");
      assert.equal(measured.interactive, false);
      assert.equal(measured.path.endsWith("/article"), true, measured.path);
      const props = Object.fromEntries(measured.props);
      assert.match(props.engagement_ms, /^\d+$/);
      assert.match(props.scroll_depth, /^\d+$/);
    },
  );
});
