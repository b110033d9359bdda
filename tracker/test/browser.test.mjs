// hk.js in Debian's Chromium, driven by playwright-core: the pages of test/fixtures/ are
// served from site.test, hk.js and /api/event from stats.test (harness.mjs), and each test
// asserts the events the server received.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { launchBrowser, OTHER, SITE, STATS, startFixtureServer } from "./harness.mjs";

/** How long a test waits to be sure an event did not come. */
const QUIET_MS = 300;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let browser;
let server;

before(async () => {
  [browser, server] = await Promise.all([launchBrowser(), startFixtureServer()]);
});
after(async () => {
  await Promise.all([browser?.close(), server?.close()]);
});

/** A fresh browser context (no storage, no history) per test, with optional init scripts. */
async function open(...initScripts) {
  const context = await browser.newContext();
  for (const script of initScripts) await context.addInitScript(script);
  const page = await context.newPage();
  return { context, page };
}

/**
 * Asserts that `run` received nothing: once hk.js has decided (its callback ran, which it
 * does whether it sends or not), a quiet period must pass without an event.
 */
async function assertNothingSent(page, run) {
  await page.evaluate(() => new Promise((resolve) => window.hitkeep("probe", { callback: resolve })));
  await sleep(QUIET_MS);
  assert.deepEqual(
    server.events(run).map((r) => r.event),
    [],
  );
}

const names = (records) => records.map((r) => r.event.n);
const paths = (records) => records.map((r) => new URL(r.event.u).pathname.split("/").pop() + new URL(r.event.u).hash);

describe("hk.js in Chromium", { timeout: 60_000 }, () => {
  test("a pageview: Plausible's shape, text/plain, to the script's origin, campaign parameters only", async () => {
    const run = server.run();
    const { context, page } = await open();
    // Arrive from another site, as a visitor would, with a query string and a fragment.
    await page.goto(server.landing(run));
    const target = server.url(run, "pageview.html");
    await page.evaluate((to) => (location.href = to), `${target}?utm_source=news&session=s3cret&gclid=abc#section`);
    const [record] = await server.waitFor(run);
    assert.deepEqual(record.event, {
      n: "pageview",
      u: `${target}?utm_source=news&gclid=abc`,
      d: SITE,
      r: `http://${OTHER}:${server.port}/`, // Chromium's default policy sends the origin only
    });
    assert.equal(record.host, `${STATS}:${server.port}`);
    assert.equal(record.path, "/api/event");
    assert.match(record.contentType, /^text\/plain/);
    assert.equal(record.origin, `http://${SITE}:${server.port}`);
    await sleep(QUIET_MS);
    assert.equal(server.events(run).length, 1, "one pageview per page load");
    await context.close();
  });

  test("a single-page app: pushState, replaceState and popstate, each page counted once", async () => {
    const run = server.run();
    const { context, page } = await open();
    await page.goto(server.url(run, "spa.html"));
    await server.waitFor(run, 1);
    await page.click("#to-a"); // pushState: a
    await server.waitFor(run, 2);
    await page.evaluate(() => history.pushState({}, "", "a?page=2")); // same path
    await page.evaluate(() => history.replaceState({}, "", "a?page=3")); // same path
    await page.click("#to-b"); // pushState: b?tab=1
    await server.waitFor(run, 3);
    await page.evaluate(() => history.replaceState({}, "", "b?tab=2")); // same path
    await page.goBack(); // popstate: a?page=3
    await server.waitFor(run, 4);
    await sleep(QUIET_MS);
    const records = server.events(run);
    assert.deepEqual(paths(records), ["spa.html", "a", "b", "a"]);
    assert.deepEqual(names(records), ["pageview", "pageview", "pageview", "pageview"]);
    assert.equal(records[3].event.u, server.url(run, "a"), "non-campaign parameters never leave");
    await context.close();
  });

  test("hash routing: data-hash counts fragments as pages, once per move", async () => {
    const run = server.run();
    const { context, page } = await open();
    await page.goto(server.url(run, "hash.html") + "#/home");
    await server.waitFor(run, 1);
    await page.click("#about"); // hashchange and popstate
    await server.waitFor(run, 2);
    await page.click("#about"); // the same fragment again: nothing happens
    await page.goBack(); // back to #/home
    await server.waitFor(run, 3);
    await sleep(QUIET_MS);
    const records = server.events(run);
    assert.deepEqual(paths(records), ["hash.html#/home", "hash.html#/about", "hash.html#/home"]);
    assert.ok(records.every((r) => r.event.h === true));
    await context.close();
  });

  test("custom events queued before the script loads are sent after the pageview, with props and revenue", async () => {
    const run = server.run();
    const { context, page } = await open();
    await page.goto(server.url(run, "queue.html"));
    const records = await server.waitFor(run, 3);
    const byName = Object.fromEntries(records.map((r) => [r.event.n, r.event]));
    assert.deepEqual(Object.keys(byName).sort(), ["Purchase", "Signup", "pageview"]);
    assert.deepEqual(byName.Signup.p, { plan: "pro", seats: 3 });
    assert.deepEqual(byName.Purchase.p, { sku: "A-1" });
    assert.deepEqual(byName.Purchase.$, { amount: "9.99", currency: "EUR" });
    assert.equal(typeof (await page.evaluate(() => window.hitkeep.q)), "undefined", "the stub was replaced");
    // And after load, the same function sends directly.
    await page.evaluate(() => window.hitkeep("Later", { props: { n: 1 }, interactive: false }));
    const [later] = await server.waitFor(run, 1, (e) => e.n === "Later");
    assert.deepEqual([later.event.p, later.event.i], [{ n: 1 }, false]);
    await context.close();
  });

  test("an outbound link, same tab: the event arrives and the browser still gets there", async () => {
    const run = server.run();
    const { context, page } = await open();
    await page.goto(server.url(run, "links.html"));
    await server.waitFor(run, 1);
    await Promise.all([page.waitForURL(`${server.landing(run)}?from=links`), page.click("#out")]);
    const [record] = await server.waitFor(run, 1, (e) => e.n === "Outbound Link: Click");
    assert.deepEqual(record.event.p, { url: `${server.landing(run)}?from=links` });
    assert.equal(record.event.u, server.url(run, "links.html"), "sent from the page that had the link");
    await context.close();
  });

  test("an outbound link opened in a new tab (ctrl-click, middle click, target=_blank) is recorded; a right click is not", async () => {
    const run = server.run();
    const { context, page } = await open();
    await page.goto(server.url(run, "links.html"));
    await server.waitFor(run, 1);
    const outbound = (e) => e.n === "Outbound Link: Click";

    await page.click("#out", { button: "right" });
    await Promise.all([context.waitForEvent("page"), page.click("#out", { modifiers: ["ControlOrMeta"] })]);
    await server.waitFor(run, 1, outbound);
    await Promise.all([context.waitForEvent("page"), page.click("#out", { button: "middle" })]);
    await server.waitFor(run, 2, outbound);
    await Promise.all([context.waitForEvent("page"), page.click("#out-blank")]);
    const records = await server.waitFor(run, 3, outbound);
    await sleep(QUIET_MS);

    assert.equal(server.events(run).filter((r) => outbound(r.event)).length, 3, "no event for the right click");
    assert.deepEqual(
      records.map((r) => r.event.p.url),
      [`${server.landing(run)}?from=links`, `${server.landing(run)}?from=links`, `${server.landing(run)}?from=blank`],
    );
    assert.equal(page.url(), server.url(run, "links.html"), "this tab stayed");
    await context.close();
  });

  test("internal and mailto: links are not outbound", async () => {
    const run = server.run();
    const { context, page } = await open();
    await page.goto(server.url(run, "links.html"));
    await server.waitFor(run, 1);
    await page.evaluate(() => document.getElementById("mail").addEventListener("click", (e) => e.preventDefault()));
    await page.click("#mail");
    await Promise.all([page.waitForURL(server.landing(run, SITE)), page.click("#internal")]);
    await sleep(QUIET_MS);
    assert.deepEqual(names(server.events(run)), ["pageview"]);
    await context.close();
  });

  test("file downloads: the URL without its query string; a download link is not held", async () => {
    const run = server.run();
    const { context, page } = await open();
    await page.goto(server.url(run, "links.html"));
    await server.waitFor(run, 1);
    const files = `http://${SITE}:${server.port}/r/${run}/files`;

    await Promise.all([page.waitForEvent("download"), page.click("#zip")]);
    const [zip] = await server.waitFor(run, 1, (e) => e.n === "File Download");
    assert.deepEqual(zip.event.p, { url: `${files}/archive.zip` });
    assert.equal(page.url(), server.url(run, "links.html"));

    await Promise.all([page.waitForURL(`${files}/report.pdf?token=secret`), page.click("#pdf")]);
    const records = await server.waitFor(run, 2, (e) => e.n === "File Download");
    assert.deepEqual(records[1].event.p, { url: `${files}/report.pdf` });
    assert.equal(records[1].event.u, server.url(run, "links.html"));
    await context.close();
  });

  test("data-download-extensions replaces the list of download extensions", async () => {
    const run = server.run();
    const { context, page } = await open();
    await page.goto(server.url(run, "downloads-custom.html"));
    await server.waitFor(run, 1);
    await Promise.all([page.waitForEvent("download"), page.click("#pdf")]);
    await Promise.all([page.waitForEvent("download"), page.click("#epub")]);
    const [record] = await server.waitFor(run, 1, (e) => e.n === "File Download");
    await sleep(QUIET_MS);
    assert.equal(record.event.p.url, `http://${SITE}:${server.port}/r/${run}/files/book.epub`);
    assert.deepEqual(names(server.events(run)), ["pageview", "File Download"]);
    await context.close();
  });

  test("tagged elements: data-hk-event with data-hk-prop-*, from a click on a child; tagged links keep working", async () => {
    const run = server.run();
    const { context, page } = await open();
    await page.goto(server.url(run, "tagged.html"));
    await server.waitFor(run, 1);
    await page.click("#plain");
    await page.click("#signup-label");
    const [signup] = await server.waitFor(run, 1, (e) => e.n === "Signup");
    assert.deepEqual(signup.event.p, { plan: "pro", "billing-cycle": "yearly" });
    await Promise.all([page.waitForURL(server.landing(run)), page.click("#cta")]);
    const [cta] = await server.waitFor(run, 1, (e) => e.n === "CTA");
    assert.deepEqual(cta.event.p, { url: server.landing(run), place: "header" });
    assert.deepEqual(names(server.events(run)).sort(), ["CTA", "Signup", "pageview"]);
    await context.close();
  });

  test("a 404 page declares itself with hitkeep('404')", async () => {
    const run = server.run();
    const { context, page } = await open();
    await page.goto(server.url(run, "404.html"));
    const records = await server.waitFor(run, 2);
    const notFound = records.find((r) => r.event.n === "404");
    assert.ok(notFound, JSON.stringify(records.map((r) => r.event)));
    assert.equal(notFound.event.i, false, "a 404 view does not end a bounce");
    assert.equal(notFound.event.u, server.url(run, "404.html"));
    await context.close();
  });

  const defineNavigator = (name, value) =>
    `Object.defineProperty(Navigator.prototype, ${JSON.stringify(name)}, { get: () => ${JSON.stringify(value)}, configurable: true })`;

  for (const [signal, name, value] of [
    ["Do-Not-Track", "doNotTrack", "1"],
    ["Global Privacy Control", "globalPrivacyControl", true],
  ]) {
    test(`${signal} is honoured by default, and ignored with data-allow`, async () => {
      const run = server.run();
      const { context, page } = await open(defineNavigator(name, value));
      await page.goto(server.url(run, "pageview.html"));
      assert.equal(await page.evaluate((n) => navigator[n], name), value);
      await assertNothingSent(page, run);
      await page.goto(server.url(run, "allow-privacy.html"));
      const [record] = await server.waitFor(run);
      assert.equal(record.event.n, "pageview");
      await context.close();
    });

    test(`${signal} switched off sends as usual`, async () => {
      const run = server.run();
      const { context, page } = await open(defineNavigator(name, name === "doNotTrack" ? "0" : false));
      await page.goto(server.url(run, "pageview.html"));
      await server.waitFor(run);
      await context.close();
    });
  }

  test("the visitor's opt-out, localStorage.hitkeep_ignore = 'true', stops everything", async () => {
    const run = server.run();
    const { context, page } = await open(() => localStorage.setItem("hitkeep_ignore", "true"));
    await page.goto(server.url(run, "allow-privacy.html"));
    await assertNothingSent(page, run);
    await page.evaluate(() => localStorage.setItem("hitkeep_ignore", "false"));
    await page.evaluate(() => window.hitkeep("After opting in again"));
    await server.waitFor(run);
    await context.close();
  });

  test("a sandboxed iframe, where localStorage throws, still sends", async () => {
    const run = server.run();
    const { context, page } = await open();
    await page.goto(server.url(run, "iframe.html"));
    const [record] = await server.waitFor(run);
    assert.equal(record.event.u, server.url(run, "pageview.html"));
    assert.equal(record.origin, "null", "the frame's origin is opaque");
    await context.close();
  });

  test("local pages send nothing unless data-allow names local", async () => {
    const run = server.run();
    const { context, page } = await open();
    for (const host of ["127.0.0.1", "localhost"]) {
      await page.goto(server.url(run, "pageview.html", host));
      await assertNothingSent(page, run);
    }
    await page.goto(server.url(run, "local.html", "localhost"));
    const [record] = await server.waitFor(run);
    assert.equal(record.event.u, server.url(run, "local.html", "localhost"));
    await context.close();
  });

  test("automated browsers send nothing unless data-allow names automation", async () => {
    const run = server.run();
    const { context, page } = await open();
    await page.goto(server.url(run, "no-allow.html"));
    assert.equal(await page.evaluate(() => navigator.webdriver), true, "Playwright's Chromium says it is automated");
    await assertNothingSent(page, run);
    await context.close();
  });

  test("without sendBeacon, a keepalive fetch delivers the same event", async () => {
    const run = server.run();
    const { context, page } = await open(() => {
      Navigator.prototype.sendBeacon = () => false;
    });
    await page.goto(server.url(run, "pageview.html"));
    const [record] = await server.waitFor(run);
    assert.equal(record.event.n, "pageview");
    assert.match(record.contentType, /^text\/plain/);
    await context.close();
  });
});
