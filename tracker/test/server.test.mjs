// hk.js against a real `hitkeep serve`: the pages of test/fixtures/ load the script the server
// serves, send to its /api/event, and each test asserts what the server STORED, read back
// with `hitkeep events --json`. Needs the hitkeep binary (see hitkeep.mjs): run
// `cargo build -p hitkeep` first, or set HK_BIN.
//
// Hosts as in browser.test.mjs: pages on site.test, the Hitkeep server on stats.test (at its
// own port), outbound targets on other.test, all mapped to 127.0.0.1 in Chromium. Each test
// uses its own path prefix (/r/<run>/), and reads only the stored events under it.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { chromium } from "playwright-core";

import { CHROMIUM, launchBrowser, OTHER, SITE, STATS, startFixtureServer } from "./harness.mjs";
import { DESKTOP_CHROME, startHitkeep } from "./hitkeep.mjs";

const dist = readFileSync(new URL("../dist/hk.js", import.meta.url));

let hitkeep;
let browser;
let pages;

before(async () => {
  hitkeep = await startHitkeep({ sites: [SITE] });
  [browser, pages] = await Promise.all([
    launchBrowser(),
    startFixtureServer({ tracker: `http://${STATS}:${hitkeep.port}/hk.js` }),
  ]);
});

after(async () => {
  await Promise.allSettled([browser?.close(), pages?.close()]);
  if (hitkeep) {
    const exit = await hitkeep.stop();
    assert.deepEqual(exit, { code: 0, signal: null }, `hitkeep serve's exit after SIGTERM\n${hitkeep.log()}`);
  }
});

/** The /api/event requests of every context, with the server's answers: for failure messages. */
const requests = [];
const isApi = (url) => url === `http://${STATS}:${hitkeep.port}/api/event`;
const describeRequests = () =>
  "requests: " +
  JSON.stringify(requests.slice(-30).map(({ body, status, dropped }) => ({ body, status, dropped })), null, 1);

function watch(context) {
  const mine = [];
  context.on("request", (request) => {
    if (!isApi(request.url())) return;
    const entry = { request, body: request.postData(), status: undefined, dropped: undefined };
    mine.push(entry);
    requests.push(entry);
  });
  context.on("response", (response) => {
    const entry = mine.find((e) => e.request === response.request());
    if (!entry) return;
    entry.status = response.status();
    entry.dropped = response.headers()["x-hitkeep-dropped"];
  });
  return mine;
}

/** Waits until the server has answered `count` of the requests in `api` (5 s at most). */
async function answered(api, count = 1) {
  const deadline = Date.now() + 5000;
  while (api.filter((e) => e.status).length < count) {
    if (Date.now() > deadline) throw new Error(`no answer from the server\n${describeRequests()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A fresh context that the collector counts: a desktop Chrome user agent, not HeadlessChrome. */
async function open({ initScripts = [], extraHTTPHeaders } = {}) {
  const context = await browser.newContext({ userAgent: DESKTOP_CHROME, extraHTTPHeaders });
  for (const script of initScripts) await context.addInitScript(script);
  const api = watch(context);
  const page = await context.newPage();
  return { context, page, api };
}

const inRun = (run) => (event) => event.hit.path.startsWith(`/r/${run}/`);
const page = (run, name) => `/r/${run}/fixtures/${name}`;

/** Waits for `count` stored events of `run` matching `filter`; returns their hits, oldest first. */
async function stored(run, filter = () => true, count = 1) {
  const found = await hitkeep.waitForStored(SITE, (e) => inRun(run)(e) && filter(e.hit), {
    count,
    describe: describeRequests,
  });
  return found.map((e) => e.hit);
}

/** All stored hits of `run` now, oldest first. */
async function storedNow(run) {
  return (await hitkeep.events(SITE)).filter(inRun(run)).map((e) => e.hit);
}

/** Once hk.js has loaded (it replaces window.hitkeep, or defines it). */
const loaded = (page) => page.waitForFunction(() => typeof window.hitkeep === "function" && !window.hitkeep.q);

/** Once hk.js has decided (its callback runs whether it sends or not). */
const settled = (page) => page.evaluate(() => new Promise((resolve) => window.hitkeep("probe", { callback: resolve })));

/**
 * Proves that nothing of `run` was stored before this point: a later event from a clean
 * context (the sentinel) is stored, and it is the only event of the run.
 */
async function assertOnlySentinelStored(run) {
  const { context, page: sentinel } = await open();
  await sentinel.goto(pages.url(run, "tagged.html"));
  await stored(run, (h) => h.path === page(run, "tagged.html"));
  await context.close();
  assert.deepEqual(
    (await storedNow(run)).map((h) => [h.name, h.path]),
    [["pageview", page(run, "tagged.html")]],
    "nothing but the sentinel was stored",
  );
}

const props = (hit) => Object.fromEntries(hit.props ?? []);

describe("hk.js against hitkeep serve", { timeout: 120_000 }, () => {
  test("GET /hk.js is dist/hk.js, revalidated by its ETag; the pinned URL is immutable", async () => {
    const base = `http://${hitkeep.addr}`;
    const response = await fetch(`${base}/hk.js`);
    assert.equal(response.status, 200);
    assert.ok(Buffer.from(await response.arrayBuffer()).equals(dist), "byte for byte the committed dist/hk.js");
    assert.match(response.headers.get("content-type"), /javascript/);
    assert.equal(response.headers.get("cache-control"), "public, max-age=3600");
    assert.equal(response.headers.get("access-control-allow-origin"), "*");
    const etag = response.headers.get("etag");
    assert.match(etag, /^"[0-9a-f]{16}"$/);

    const revalidated = await fetch(`${base}/hk.js`, { headers: { "if-none-match": etag } });
    assert.equal(revalidated.status, 304);
    assert.equal(revalidated.headers.get("etag"), etag);
    assert.equal((await revalidated.arrayBuffer()).byteLength, 0);

    const changed = await fetch(`${base}/hk.js`, { headers: { "if-none-match": '"0000000000000000"' } });
    assert.equal(changed.status, 200);
    await changed.arrayBuffer();

    const pinned = await fetch(`${base}/hk.${etag.slice(1, -1)}.js`);
    assert.equal(pinned.status, 200);
    assert.ok(Buffer.from(await pinned.arrayBuffer()).equals(dist));
    assert.equal(pinned.headers.get("cache-control"), "public, max-age=31536000, immutable");

    const old = await fetch(`${base}/hk.0123456789abcdef.js`, { redirect: "manual" });
    assert.equal(old.status, 302, "a pinned URL of another version falls back to /hk.js");
    assert.equal(old.headers.get("location"), "/hk.js");
  });

  test("a pageview from another site: page, hostname, referrer, channel, browser", async () => {
    const run = pages.run();
    const { context, page: tab } = await open();
    await tab.goto(pages.landing(run, OTHER));
    await tab.evaluate((to) => (location.href = to), pages.url(run, "pageview.html"));
    const [hit] = await stored(run);
    await context.close();
    assert.deepEqual(
      {
        domain: hit.domain,
        kind: hit.kind,
        name: hit.name,
        hostname: hit.hostname,
        path: hit.path,
        referrer: hit.referrer,
        source: hit.source,
        channel: hit.channel,
        browser: hit.browser,
        os: hit.os,
        device: hit.device,
        interactive: hit.interactive,
      },
      {
        domain: SITE,
        kind: "pageview",
        name: "pageview",
        hostname: SITE,
        path: page(run, "pageview.html"),
        referrer: `${OTHER}/`, // Chromium sends the origin only; stored as host and path
        source: OTHER,
        channel: "referral",
        browser: "Chrome",
        os: "Linux",
        device: "desktop",
        interactive: true,
      },
    );
    assert.equal(hit.props, undefined);
    assert.equal(hit.revenue, undefined);
  });

  test("the query string is not stored, campaign parameters are", async () => {
    const run = pages.run();
    const { context, page: tab } = await open();
    const query = "?utm_source=google&utm_medium=cpc&utm_campaign=launch&q=private+words&session=s3cret";
    await tab.goto(pages.url(run, "pageview.html") + query + "#section");
    const [hit] = await stored(run);
    await context.close();
    assert.equal(hit.path, page(run, "pageview.html"));
    assert.deepEqual(hit.utm, { source: "google", medium: "cpc", campaign: "launch" });
    assert.equal(hit.source, "Google");
    assert.equal(hit.channel, "paid_search");
    assert.ok(!JSON.stringify(hit).includes("s3cret") && !JSON.stringify(hit).includes("private"));
  });

  test("a single-page app: a pushState is a new pageview, a replaceState to the same path is not", async () => {
    const run = pages.run();
    const { context, page: tab } = await open();
    await tab.goto(pages.url(run, "spa.html"));
    await loaded(tab);
    await tab.click("#to-a"); // pushState: a
    await tab.evaluate(() => history.replaceState({}, "", "a?page=2")); // the same path
    await tab.click("#to-b"); // pushState: b?tab=1
    await tab.evaluate(() => history.replaceState({}, "", "b?tab=2")); // the same path
    await tab.evaluate(() => history.pushState({}, "", "b#top")); // the same path, a fragment
    await tab.evaluate(() => window.hitkeep("Sentinel"));
    await stored(run, (h) => h.name === "Sentinel");
    await context.close();
    const hits = await storedNow(run);
    const pageviews = hits.filter((h) => h.kind === "pageview").map((h) => h.path);
    assert.deepEqual(pageviews.sort(), [page(run, "a"), page(run, "b"), page(run, "spa.html")].sort());
    assert.equal(hits.find((h) => h.name === "Sentinel").path, page(run, "b"));
  });

  test("hash routing (data-hash): the fragment is stored as part of the path", async () => {
    const run = pages.run();
    const { context, page: tab } = await open();
    await tab.goto(pages.url(run, "hash.html") + "#/home");
    await loaded(tab);
    await tab.click("#about");
    await stored(run, (h) => h.path.endsWith("#/about")); // before going back
    await tab.goBack();
    const hits = await stored(run, (h) => h.kind === "pageview", 3);
    await context.close();
    assert.deepEqual(hits.map((h) => h.path).sort(), [
      page(run, "hash.html#/about"),
      page(run, "hash.html#/home"),
      page(run, "hash.html#/home"),
    ]);
  });

  test("custom events queued before the script loads: props and revenue", async () => {
    const run = pages.run();
    const { context, page: tab } = await open();
    await tab.goto(pages.url(run, "queue.html"));
    const hits = await stored(run, () => true, 3);
    await context.close();
    const byName = Object.fromEntries(hits.map((h) => [h.name, h]));
    assert.deepEqual(Object.keys(byName).sort(), ["Purchase", "Signup", "pageview"]);
    assert.equal(byName.Signup.kind, "custom");
    assert.equal(byName.Signup.path, page(run, "queue.html"));
    assert.deepEqual(byName.Signup.props, [
      ["plan", "pro"],
      ["seats", "3"],
    ]);
    assert.equal(byName.Signup.revenue, undefined);
    assert.deepEqual(byName.Purchase.props, [["sku", "A-1"]]);
    assert.deepEqual(byName.Purchase.revenue, { amount_micros: 9_990_000, currency: "EUR" });
    assert.ok(hits.every((h) => h.interactive === true));
  });

  test("an outbound link: 'Outbound Link: Click' with its url is stored, and the browser got there", async () => {
    const run = pages.run();
    const { context, page: tab } = await open();
    await tab.goto(pages.url(run, "links.html"));
    await loaded(tab);
    const target = `${pages.landing(run, OTHER)}?from=links`;
    await Promise.all([tab.waitForURL(target), tab.click("#out")]);
    const [hit] = await stored(run, (h) => h.name === "Outbound Link: Click");
    await context.close();
    assert.equal(hit.kind, "custom");
    assert.equal(hit.path, page(run, "links.html"), "stored for the page that had the link");
    assert.deepEqual(hit.props, [["url", target]]);
  });

  test("a file download: 'File Download' with the file's URL, without its query string", async () => {
    const run = pages.run();
    const { context, page: tab } = await open();
    await tab.goto(pages.url(run, "links.html"));
    await loaded(tab);
    const file = `http://${SITE}:${pages.port}/r/${run}/files/report.pdf`;
    await Promise.all([tab.waitForURL(`${file}?token=secret`), tab.click("#pdf")]);
    const [hit] = await stored(run, (h) => h.name === "File Download");
    await context.close();
    assert.equal(hit.path, page(run, "links.html"));
    assert.deepEqual(hit.props, [["url", file]]);
    assert.ok(!JSON.stringify(await storedNow(run)).includes("secret"));
  });

  test("a tagged element: data-hk-event with its data-hk-prop-* attributes", async () => {
    const run = pages.run();
    const { context, page: tab } = await open();
    await tab.goto(pages.url(run, "tagged.html"));
    await loaded(tab);
    await tab.click("#signup-label");
    const [hit] = await stored(run, (h) => h.name === "Signup");
    await context.close();
    assert.equal(hit.kind, "custom");
    assert.equal(hit.path, page(run, "tagged.html"));
    assert.deepEqual(props(hit), { plan: "pro", "billing-cycle": "yearly" });
  });

  test("a 404 page: hitkeep('404', { interactive: false }) is stored as not interactive", async () => {
    const run = pages.run();
    const { context, page: tab } = await open();
    await tab.goto(pages.url(run, "404.html"));
    const hits = await stored(run, () => true, 2);
    await context.close();
    const notFound = hits.find((h) => h.name === "404");
    assert.ok(notFound, JSON.stringify(hits));
    assert.equal(notFound.kind, "custom");
    assert.equal(notFound.interactive, false);
    assert.equal(notFound.path, page(run, "404.html"));
    assert.equal(hits.find((h) => h.name === "pageview").interactive, true);
  });

  test("Do-Not-Track, Chromium's own setting: hk.js sends nothing; with data-allow='dnt' the server drops it", async () => {
    const run = pages.run();
    // Chromium with "Send a Do Not Track request" on: navigator.doNotTrack is "1" and every
    // request carries DNT: 1, as for a real visitor.
    const profile = mkdtempSync(join(tmpdir(), "hk-dnt-profile-"));
    mkdirSync(join(profile, "Default"));
    writeFileSync(join(profile, "Default", "Preferences"), JSON.stringify({ enable_do_not_track: true }));
    const rules = [SITE, STATS, OTHER].map((host) => `MAP ${host} 127.0.0.1`).join(", ");
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: [`--host-resolver-rules=${rules}`],
      userAgent: DESKTOP_CHROME,
    });
    try {
      const api = watch(context);
      const tab = await context.newPage();
      await tab.goto(pages.url(run, "pageview.html"));
      assert.equal(await tab.evaluate(() => navigator.doNotTrack), "1");
      await settled(tab);
      assert.deepEqual(api, [], "hk.js sent nothing");

      // data-allow="dnt": hk.js sends, and the collector, seeing DNT: 1 on a site that
      // honours it (the default, and `hitkeep site` has no switch for it), drops the event.
      await tab.goto(pages.url(run, "allow-privacy.html"));
      await answered(api);
      assert.deepEqual(
        api.map((e) => [JSON.parse(e.body).n, e.request.headers()["dnt"], e.status, e.dropped]),
        [["pageview", "1", 202, "dnt"]],
      );
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
    await assertOnlySentinelStored(run);
  });

  test("Do-Not-Track seen by the page only (no DNT header): data-allow='dnt' is stored, the default is not", async () => {
    const run = pages.run();
    const { context, page: tab, api } = await open({
      initScripts: [`Object.defineProperty(Navigator.prototype, "doNotTrack", { get: () => "1", configurable: true })`],
    });
    await tab.goto(pages.url(run, "pageview.html"));
    await settled(tab);
    assert.deepEqual(api, [], "hk.js sent nothing");
    await tab.goto(pages.url(run, "allow-privacy.html"));
    const [hit] = await stored(run);
    await context.close();
    assert.equal(hit.path, page(run, "allow-privacy.html"));
    assert.deepEqual(
      (await storedNow(run)).map((h) => h.path),
      [page(run, "allow-privacy.html")],
    );
  });

  test("Global Privacy Control (navigator and Sec-GPC: 1): nothing stored, with or without data-allow='gpc'", async () => {
    const run = pages.run();
    const { context, page: tab, api } = await open({
      initScripts: [`Object.defineProperty(Navigator.prototype, "globalPrivacyControl", { get: () => true, configurable: true })`],
      extraHTTPHeaders: { "Sec-GPC": "1" },
    });
    await tab.goto(pages.url(run, "pageview.html"));
    await settled(tab);
    assert.deepEqual(api, [], "hk.js sent nothing");
    await tab.goto(pages.url(run, "allow-privacy.html"));
    await answered(api);
    assert.deepEqual(
      api.map((e) => [JSON.parse(e.body).n, e.status, e.dropped]),
      [["pageview", 202, "gpc"]],
      "sent because of data-allow, dropped by the collector",
    );
    await context.close();
    await assertOnlySentinelStored(run);
  });

  test("Global Privacy Control seen by the page only: data-allow='gpc' is stored, the default is not", async () => {
    const run = pages.run();
    const { context, page: tab, api } = await open({
      initScripts: [`Object.defineProperty(Navigator.prototype, "globalPrivacyControl", { get: () => true, configurable: true })`],
    });
    await tab.goto(pages.url(run, "pageview.html"));
    await settled(tab);
    assert.deepEqual(api, []);
    await tab.goto(pages.url(run, "allow-privacy.html"));
    await stored(run);
    await context.close();
    assert.deepEqual(
      (await storedNow(run)).map((h) => h.path),
      [page(run, "allow-privacy.html")],
    );
  });

  test("the visitor's opt-out (localStorage.hitkeep_ignore): nothing stored", async () => {
    const run = pages.run();
    const { context, page: tab, api } = await open({
      initScripts: [() => localStorage.setItem("hitkeep_ignore", "true")],
    });
    await tab.goto(pages.url(run, "allow-privacy.html"));
    await settled(tab);
    await tab.evaluate(() => window.hitkeep("Signup", { props: { plan: "pro" } }));
    await settled(tab);
    assert.deepEqual(api, [], "hk.js sent nothing");
    await context.close();
    await assertOnlySentinelStored(run);
  });
});
