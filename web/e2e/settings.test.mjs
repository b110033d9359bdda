// Settings as a site's owner uses them, against a real `hitkeep serve --demo`: a goal and a
// funnel added on the settings pages show on the dashboard with the demo's numbers; a new
// site shows its tracking snippet, and its "waiting for the first event" check turns green
// when an event arrives through Plausible's Events API (POST /api/event).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { assertAccessible, launch, openContext, screenshot, signInWithDemo, startHitkeep } from "./harness.mjs";

const SITE = "demo.hitkeep.dev";
const BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

let hitkeep;
let browser;

before(async () => {
  hitkeep = await startHitkeep({ demo: true });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await hitkeep?.stopAndSearch();
});

/** A signed-in page of a fresh watched context; fails on errors and foreign requests after `body`. */
async function withPage(body) {
  const watched = await openContext(browser, hitkeep.base);
  try {
    const page = await watched.context.newPage();
    page.setDefaultTimeout(15_000);
    await signInWithDemo(page, hitkeep);
    await body(page);
    watched.assertClean();
  } finally {
    await watched.context.close();
  }
}

/** The goals panel of the dashboard (its heading follows its tab). */
const goalsPanel = (page) => page.locator("section.panel[aria-labelledby='panel-goals-title']");

test("a goal and a funnel added in the settings show on the dashboard", async () => {
  await withPage(async (page) => {
    // A page goal.
    await page.goto(`${hitkeep.base}/sites/${SITE}/settings/goals`);
    await page.getByRole("heading", { name: "Add a goal" }).waitFor();
    await page.getByLabel("Page path").fill("/features");
    await page.getByRole("button", { name: "Add the goal" }).click();
    await page.getByText("Goal added").waitFor();
    await page.locator(".item-list li").filter({ hasText: "Visit /features" }).waitFor();
    await assertAccessible(page, "the goals settings");

    // A funnel of two pages.
    await page.getByRole("link", { name: "Funnels" }).click();
    await page.waitForURL(`${hitkeep.base}/sites/${SITE}/settings/funnels`);
    await page.getByRole("heading", { name: "Add a funnel" }).waitFor();
    await page.getByLabel("Name", { exact: true }).fill("Features to signup");
    const steps = page.locator("fieldset.funnel-editor li.funnel-step");
    assert.equal(await steps.count(), 2);
    await steps.nth(0).getByLabel("Page path").fill("/features");
    await steps.nth(1).getByLabel("Page path").fill("/signup");
    await page.getByRole("button", { name: "Add the funnel" }).click();
    await page.getByText("Funnel added").waitFor();
    const listed = page.locator(".item-list li").filter({ hasText: "Features to signup" });
    await listed.waitFor();
    await assertAccessible(page, "the funnels settings");
    await screenshot(page, "settings-funnels");

    // Its link opens the dashboard on that funnel.
    await listed.getByRole("link", { name: "See on the dashboard" }).click();
    await page.waitForURL(/\/sites\/demo\.hitkeep\.dev\?/);
    const goals = goalsPanel(page);
    assert.equal(await goals.getByRole("combobox", { name: "Funnel" }).inputValue(), "Features to signup");
    const visitors = goals.locator(".funnel-steps:not(.stale) .funnel-step-visitors");
    await page.waitForFunction(() => document.querySelectorAll(".funnel-steps:not(.stale) .funnel-step").length === 2);
    const counts = (await visitors.allTextContents()).map((text) => Number(text.replace(/\D/g, "")));
    assert.ok(counts[0] > 0 && counts[1] > 0 && counts[1] < counts[0], `the demo's visitors go through it: ${counts}`);

    // The goal, with its visitors, among the conversions.
    await goals.getByRole("tab", { name: "Goals" }).click();
    const row = goals.locator(".report-row").filter({ has: page.getByRole("button", { name: "Visit /features (filter the dashboard by this)" }) });
    await row.waitFor();
    assert.match(await row.locator(".report-number").first().textContent(), /\d/);
  });
});

test("a new site: its snippet, and the first event turns the check green", async () => {
  await withPage(async (page) => {
    await page.getByRole("link", { name: "Add a site" }).click();
    await page.waitForURL(`${hitkeep.base}/?add`);
    const domain = "e2e-new.example";
    await page.getByLabel("Domain").fill(`https://${domain}/`);
    // The check's first question (no event yet) must be answered before the event is sent.
    const firstAnswer = page.waitForResponse((response) => response.url().includes(`/api/sites/${domain}/events?limit=1`));
    await page.getByRole("button", { name: "Add the site" }).click();
    await page.waitForURL(`${hitkeep.base}/?added=${domain}`);
    await page.getByRole("heading", { name: `Add the snippet to ${domain}` }).waitFor();
    const snippet = await page.locator(".tracking pre, .tracking code, .tracking textarea").first().textContent();
    assert.equal(snippet.trim(), `<script defer data-domain="${domain}" src="${hitkeep.base}/hk.js"></script>`);
    const check = page.locator(".first-hit");
    await check.getByText("Waiting for the first event…").waitFor();
    assert.match(await check.getAttribute("class"), /\bwaiting\b/);
    assert.deepEqual(await (await firstAnswer).json(), [], "no event yet");
    await assertAccessible(page, "a new site's snippet");
    await screenshot(page, "site-added-waiting");

    // A pageview through Plausible's Events API, as a browser would send it.
    const sent = await fetch(`${hitkeep.api}/api/event`, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": BROWSER_UA },
      body: JSON.stringify({ name: "pageview", url: `https://${domain}/`, domain }),
    });
    assert.equal(sent.status, 202, await sent.text());
    // It arrives through NATS and the ingestor; the check asks every three seconds.
    await check.getByText(/^(The first event arrived\.|Tracking works\.)$/).waitFor({ timeout: 30_000 });
    assert.equal(await check.locator("strong").textContent(), "The first event arrived.");
    assert.match(await check.getAttribute("class"), /\barrived\b/);
    await screenshot(page, "site-added-arrived");

    // Its dashboard counts the visitor.
    await check.getByRole("link", { name: "Open the dashboard" }).click();
    await page.waitForURL(`${hitkeep.base}/sites/${domain}`);
    await page.waitForFunction(() => document.querySelector(".top-stats[aria-busy='false'] .stat .stat-number")?.textContent === "1");
  });
});

test("the site's events download from the settings, and its retention saves", async () => {
  await withPage(async (page) => {
    await page.goto(`${hitkeep.base}/sites/${SITE}/settings/general`);
    const card = page.locator(".settings-card").filter({ has: page.getByRole("heading", { name: "Export events" }) });
    await card.waitFor();
    await card.getByLabel("Format").selectOption("ndjson");
    // A start after the end is refused before anything is asked.
    await card.getByLabel("From").fill("2030-01-02");
    await card.getByLabel("To").fill("2030-01-01");
    await card.getByText("The first day is after the last.").waitFor();
    assert.equal(await card.getByRole("button", { name: "Download" }).isDisabled(), true);
    // Yesterday and today (UTC; the demo site's zone is within a day of it).
    const day = (offset) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    await card.getByLabel("From").fill(day(-1));
    await card.getByLabel("To").fill(day(0));
    await assertAccessible(page, "the general settings with the export");
    await screenshot(page, "settings-export");
    const [download] = await Promise.all([page.waitForEvent("download"), card.getByRole("link", { name: "Download" }).click()]);
    assert.equal(download.suggestedFilename(), `${SITE}-events.ndjson`);
    const text = await (await download.createReadStream()).toArray().then((chunks) => Buffer.concat(chunks).toString("utf8"));
    const rows = text.trim().split("\n").map((line) => JSON.parse(line));
    assert.ok(rows.length > 100, `the demo's last two days hold events: ${rows.length}`);
    for (const row of rows.slice(0, 50)) {
      assert.equal(row.site, SITE);
      assert.equal(row.schema_version, 1);
      assert.match(row.visitor_id, /^[0-9a-f]{16}$/);
      assert.ok(Date.parse(row.time) >= Date.parse(`${day(-2)}T00:00:00Z`), row.time);
    }

    // The retention: a choice, saved, and there after a reload.
    await page.getByLabel("Keep events").selectOption("730");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Saved").waitFor();
    await page.reload();
    assert.equal(await page.getByLabel("Keep events").inputValue(), "730");
    const site = await page.evaluate(async (domain) => (await fetch(`/api/sites/${domain}`)).json(), SITE);
    assert.equal(site.retention_days, 730);
  });
});

test("an invitation waits on the members page until it is withdrawn", async () => {
  await withPage(async (page) => {
    await page.goto(`${hitkeep.base}/sites/${SITE}/settings/members`);
    await page.getByLabel("E-mail address").fill("invitee@example.com");
    await page.getByRole("button", { name: "Add" }).click();
    const pending = page.locator(".settings-card").filter({ has: page.getByRole("heading", { name: "Pending invitations" }) });
    const row = pending.locator("li").filter({ hasText: "invitee@example.com" });
    await row.waitFor();
    await assertAccessible(page, "the members page with a pending invitation");
    await screenshot(page, "settings-invitations");
    await row.getByRole("button", { name: "Withdraw" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Withdraw" }).click();
    await pending.getByText("No invitation to this site is waiting to be used.").waitFor();
  });
});
