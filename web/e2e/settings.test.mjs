// Settings as a site's owner uses them, against a real `hitkeep serve --demo`: a goal and a
// funnel added on the settings pages show on the dashboard with the demo's numbers; a new
// site shows its tracking snippet, and its "waiting for the first event" check turns green
// when an event arrives through Plausible's Events API (POST /api/event). Email reports as a
// site's manager uses them on an instance that sends mail through a real SMTP server, and
// the note that stands in for their forms on one that does not (the demo's). A Plausible
// export imported as a site's history, counted by the dashboard, and removed. The cluster
// section of an instance's owner: a node alone, and a node of a cluster on a real
// `nats-server` with JetStream, as its leader with its position in the ingest stream.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import {
  assertAccessible,
  freePort,
  launch,
  openContext,
  screenshot,
  signedIn,
  signInWithDemo,
  signInWithPassword,
  startHitkeep,
  startSmtp,
} from "./harness.mjs";

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

test("without SMTP, the email reports say so in place of their forms", async () => {
  await withPage(async (page) => {
    await page.goto(`${hitkeep.base}/sites/${SITE}/settings/reports`);
    await page.getByRole("heading", { name: "Email reports", level: 2 }).waitFor();
    const note = page.getByRole("note");
    assert.match(await note.textContent(), /^This instance sends no e-mail: its operator has to set smtp_host/);
    await page.getByText("No one gets reports of this site.").waitFor();
    await page.getByText("No alerts on this site.").waitFor();
    assert.equal(await page.locator("form.mailing-form").count(), 0, "no form to add what cannot be sent");
    await assertAccessible(page, "the email reports without SMTP");
    await screenshot(page, "settings-reports-no-smtp");
  });
});

/** What `check` answers once it answers something, asked every 200 ms for up to `timeoutMs`. */
async function eventually(check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await check();
    if (found) return found;
    assert.ok(Date.now() < deadline, `not within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** POSTs `body` as JSON to the API of `server` (with the session `cookie`); the answer. */
async function postJson(server, path, body, cookie) {
  const headers = { "content-type": "application/json", origin: server.api, ...(cookie ? { cookie } : {}) };
  return fetch(`${server.api}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
}

test("a site's manager adds, lists and removes email reports and alerts", async () => {
  const smtp = await startSmtp();
  const server = await startHitkeep({ config: () => smtp.config });
  const manager = { email: "manager@example.com", password: "the manager's own passphrase 3" };
  const domain = "reports.example";
  try {
    // The instance's owner, their site, and a manager of it (site role admin) by invitation.
    const code = new URL(server.setup).searchParams.get("code");
    const setup = await postJson(server, "/api/auth/setup", { code, email: "owner@example.com", password: "the owner's own passphrase 5", name: "Olga" });
    assert.equal(setup.status, 201, await setup.text());
    const cookie = setup.headers.get("set-cookie").split(";")[0];
    assert.equal((await postJson(server, "/api/sites", { domain, timezone: "Europe/Berlin" }, cookie)).status, 201);
    const invited = await postJson(server, `/api/sites/${domain}/members`, { email: manager.email, role: "admin" }, cookie);
    assert.equal(invited.status, 201);
    const invitation = await invited.json();
    assert.equal(invitation.emailed, true, "the instance mails invitations through the SMTP server");
    const accepted = await postJson(server, "/api/auth/invitations/accept", { code: invitation.code, password: manager.password, name: "Max" });
    assert.equal(accepted.status, 201, await accepted.text());

    const watched = await openContext(browser, server.base);
    try {
      const page = await watched.context.newPage();
      page.setDefaultTimeout(15_000);
      await page.goto(`${server.base}/login`);
      await signInWithPassword(page, manager.email, manager.password);
      await signedIn(page, server);
      await page.goto(`${server.base}/sites/${domain}/settings/general`);
      const nav = page.getByRole("navigation", { name: "Settings sections" });
      await nav.getByRole("link", { name: "Email reports" }).click();
      await page.waitForURL(`${server.base}/sites/${domain}/settings/reports`);
      assert.equal(await nav.getByRole("link", { name: "Members" }).count(), 0, "a manager is no owner");

      const reports = page.locator(".settings-card").filter({ has: page.getByRole("heading", { name: "Reports", exact: true }) });
      const alerts = page.locator(".settings-card").filter({ has: page.getByRole("heading", { name: "Alerts", exact: true }) });
      await reports.getByText("Reports go out at 07:00").waitFor();
      await reports.getByText("Europe/Berlin").waitFor();
      assert.equal(await page.getByRole("note").count(), 0, "this instance sends mail");

      // A weekly report in German; the language starts as the dashboard's.
      assert.equal(await reports.getByLabel("Language").inputValue(), "en");
      await reports.getByLabel("E-mail address").fill("not an address");
      await reports.getByRole("button", { name: "Add the report" }).click();
      await reports.getByRole("alert").filter({ hasText: "Enter an e-mail address." }).waitFor();
      await reports.getByLabel("E-mail address").fill("reader@example.com");
      await reports.getByLabel("Frequency").selectOption("weekly");
      await reports.getByLabel("Language").selectOption("de");
      await reports.getByRole("button", { name: "Add the report" }).click();
      await reports.getByText("Report added").waitFor();
      const report = reports.locator(".item-list li").filter({ hasText: "reader@example.com" });
      await report.getByText("Weekly").waitFor();
      await report.getByText("Deutsch").waitFor();
      assert.equal(await reports.getByLabel("E-mail address").inputValue(), "", "the form is emptied");

      // The same again is refused, next to the address.
      await reports.getByLabel("E-mail address").fill("reader@example.com");
      await reports.getByRole("button", { name: "Add the report" }).click();
      const duplicate = reports.getByRole("alert").filter({ hasText: "This address gets this report already. (mailing_exists)" });
      await duplicate.waitFor();
      assert.equal(await reports.getByLabel("E-mail address").getAttribute("aria-invalid"), "true");
      assert.match(await reports.getByLabel("E-mail address").getAttribute("aria-describedby"), /report-email-error/);
      // A daily one to someone else, to be removed below.
      await reports.getByLabel("E-mail address").fill("daily@example.com");
      await reports.getByLabel("Frequency").selectOption("daily");
      await reports.getByRole("button", { name: "Add the report" }).click();
      await reports.locator(".item-list li").filter({ hasText: "daily@example.com" }).waitFor();

      // A traffic drop alert: the threshold's label and bounds follow the kind.
      const threshold = alerts.locator("#alert-threshold");
      assert.equal(await alerts.getByLabel("Visitors in the last five minutes").getAttribute("max"), "10000000");
      await alerts.getByLabel("Condition").selectOption("traffic_drop");
      await alerts.getByLabel("Percent of a usual day").waitFor();
      assert.equal(await threshold.getAttribute("max"), "99");
      await threshold.fill("150");
      await alerts.getByLabel("E-mail address").fill("ops@example.com");
      await alerts.getByRole("button", { name: "Add the alert" }).click();
      await alerts.getByRole("alert").filter({ hasText: "Enter a whole number from 1 to 99." }).waitFor();
      await threshold.fill("40");
      await alerts.getByRole("button", { name: "Add the alert" }).click();
      await alerts.getByText("Alert added").waitFor();
      const drop = alerts.locator(".item-list li").filter({ hasText: "a day below 40% of the usual" });
      await drop.getByText("No episode under way").waitFor();
      // And one on visitors right now, for the same address, which two visitors set off.
      await alerts.getByLabel("Condition").selectOption("visitors_above");
      await threshold.fill("1");
      await alerts.getByLabel("E-mail address").fill("ops@example.com");
      await alerts.getByRole("button", { name: "Add the alert" }).click();
      const spike = alerts.locator(".item-list li").filter({ hasText: "more than 1 visitor now" });
      await spike.getByText("No episode under way").waitFor();
      for (const version of [130, 131]) {
        const sent = await fetch(`${server.api}/api/event`, {
          method: "POST",
          headers: { "content-type": "application/json", "user-agent": BROWSER_UA.replace("131.0.0.0", `${version}.0.0.0`) },
          body: JSON.stringify({ name: "pageview", url: `https://${domain}/`, domain }),
        });
        assert.equal(sent.status, 202, await sent.text());
      }
      // Alerts are checked every 15 seconds: the episode begins, and its one e-mail goes out.
      const mail = await eventually(() => smtp.messages().find((text) => /^To: ops@example\.com/m.test(text)), 60_000);
      assert.match(mail, /^Subject: reports\.example: 2 visitors right now/m);
      await page.reload();
      await spike.getByText(/^Episode under way since /).waitFor();
      await drop.getByText("No episode under way").waitFor();

      await assertAccessible(page, "the email reports with reports and alerts");
      await screenshot(page, "settings-reports");
      await page.emulateMedia({ colorScheme: "dark" });
      await screenshot(page, "settings-reports-dark");
      await page.emulateMedia({ colorScheme: "light" });

      // Removing asks first.
      await reports.locator(".item-list li").filter({ hasText: "daily@example.com" }).getByRole("button", { name: "Remove" }).click();
      const dialog = page.getByRole("dialog", { name: "Stop this report?" });
      await dialog.getByText("No more reports (Daily) to daily@example.com.").waitFor();
      await dialog.getByRole("button", { name: "Remove" }).click();
      await reports.locator(".item-list li").filter({ hasText: "daily@example.com" }).waitFor({ state: "detached" });
      await spike.getByRole("button", { name: "Remove" }).click();
      await page.getByRole("dialog", { name: "Remove this alert?" }).getByRole("button", { name: "Remove" }).click();
      await spike.waitFor({ state: "detached" });

      // In German, the page and its forms' language follow the dashboard's.
      await page.getByRole("banner").getByRole("combobox", { name: "Language" }).selectOption("de");
      await page.getByRole("heading", { name: "E-Mail-Berichte", level: 2 }).waitFor();
      assert.equal(await page.locator("#report-language").inputValue(), "de");
      await page.locator(".item-list li").getByText("ein Tag unter 40\u00a0% des Üblichen").waitFor();
      await screenshot(page, "settings-reports-de", ["phone"]);
      await page.getByRole("banner").getByRole("combobox", { name: "Sprache" }).selectOption("en");
      await page.getByRole("heading", { name: "Email reports", level: 2 }).waitFor();

      // What the API keeps is what the page showed.
      const kept = await page.evaluate(async (site) => {
        const [reports, alerts] = await Promise.all(["reports", "alerts"].map((kind) => fetch(`/api/sites/${site}/${kind}`).then((answer) => answer.json())));
        return { reports, alerts };
      }, domain);
      assert.deepEqual(
        kept.reports.map(({ email, frequency, language }) => ({ email, frequency, language })),
        [{ email: "reader@example.com", frequency: "weekly", language: "de" }],
      );
      assert.deepEqual(
        kept.alerts.map(({ email, kind, threshold, language }) => ({ email, kind, threshold, language })),
        [{ email: "ops@example.com", kind: "traffic_drop", threshold: 40, language: "en" }],
      );
      watched.assertClean();
    } finally {
      await watched.context.close();
    }
  } finally {
    await server.stopAndSearch({ "the manager's password": manager.password });
    await smtp.stop();
  }
});

/**
 * A small Plausible export in `dir`: five days of March 2025 (150 visitors) and their sources,
 * as the zip Plausible's "Export data" makes; its path.
 */
function plausibleExport(dir) {
  const visitors = [
    "date,visitors,pageviews,bounces,visits,visit_duration",
    "2025-03-01,10,25,4,12,600",
    "2025-03-02,20,44,9,23,1500",
    "2025-03-03,30,70,12,34,2100",
    "2025-03-04,40,90,15,45,2400",
    "2025-03-05,50,120,20,56,3300",
  ];
  const sources = [
    "date,source,referrer,utm_source,utm_medium,utm_campaign,utm_content,utm_term,pageviews,visitors,visits,visit_duration,bounces",
    "2025-03-01,Google,,,,,,,20,8,10,500,3",
    "2025-03-01,Direct / None,,,,,,,5,2,2,100,1",
    "2025-03-02,Google,,,,,,,40,18,21,1400,8",
    "2025-03-05,Hacker News,news.ycombinator.com,,,,,,100,45,50,3000,18",
  ];
  const files = [
    ["imported_visitors_20250301_20250305.csv", visitors],
    ["imported_sources_20250301_20250305.csv", sources],
  ].map(([name, lines]) => {
    const path = join(dir, name);
    writeFileSync(path, lines.join("\n") + "\n");
    return path;
  });
  const zip = join(dir, "plausible-export-imported.example.zip");
  const script = "import os, sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as out:\n    for path in sys.argv[2:]:\n        out.write(path, os.path.basename(path))";
  execFileSync("python3", ["-c", script, zip, ...files]);
  return zip;
}

test("a site's owner imports a Plausible export, sees it on the dashboard, and removes it", async () => {
  const server = await startHitkeep();
  const owner = { email: "owner@example.com", password: "the owner's own passphrase 5" };
  const domain = "imported.example";
  const dir = mkdtempSync(join(tmpdir(), "hitkeep-e2e-plausible-"));
  try {
    const code = new URL(server.setup).searchParams.get("code");
    const setup = await postJson(server, "/api/auth/setup", { code, ...owner, name: "Olga" });
    assert.equal(setup.status, 201, await setup.text());
    const cookie = setup.headers.get("set-cookie").split(";")[0];
    assert.equal((await postJson(server, "/api/sites", { domain, timezone: "UTC" }, cookie)).status, 201);
    const zip = plausibleExport(dir);

    const watched = await openContext(browser, server.base);
    try {
      const page = await watched.context.newPage();
      page.setDefaultTimeout(15_000);
      const uploads = [];
      page.on("request", (request) => {
        if (request.method() === "POST" && request.url().includes(`/api/sites/${domain}/imports`)) uploads.push(request.url());
      });
      await page.goto(`${server.base}/login`);
      await signInWithPassword(page, owner.email, owner.password);
      await signedIn(page, server);
      await page.goto(`${server.base}/sites/${domain}/settings/general`);
      const card = page.locator(".settings-card").filter({ has: page.getByRole("heading", { name: "Imported history" }) });
      await card.getByText("Nothing imported yet.").waitFor();
      const input = card.getByLabel("Export file (.zip or .csv)");
      const importButton = card.getByRole("button", { name: "Import", exact: true });

      // Nothing chosen, or a file that is no export by its name: refused here, nothing is sent.
      await importButton.click();
      await card.getByRole("alert").filter({ hasText: "Choose a file first." }).waitFor();
      await input.setInputFiles({ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("just notes\n") });
      await card.getByRole("alert").filter({ hasText: "Choose the .zip of a Plausible export" }).waitFor();
      assert.equal(await input.getAttribute("aria-invalid"), "true");
      assert.match(await input.getAttribute("aria-describedby"), /import-file-error/);
      await importButton.click();
      assert.deepEqual(uploads, [], "a file refused by its name is not sent");

      // One of an export's files with a wrong header: the server's words name the file.
      await input.setInputFiles({
        name: "imported_visitors_20250301_20250305.csv",
        mimeType: "text/csv",
        buffer: Buffer.from("day,people\n2025-03-01,10\n"),
      });
      assert.equal(await card.getByRole("alert").count(), 0, "choosing another file clears the problem");
      await importButton.click();
      const unreadable = card.getByRole("alert").filter({ hasText: "(invalid_takeout)" });
      await unreadable.waitFor();
      assert.match(await unreadable.textContent(), /imported_visitors_20250301_20250305\.csv/);
      assert.equal(uploads.length, 1);
      await assertAccessible(page, "the imported history with an unreadable file");
      await screenshot(page, "settings-imports-error", ["phone"]);
      await card.getByText("Nothing imported yet.").waitFor();

      // The export's zip; the upload is held a moment to see the form busy.
      let release;
      const held = new Promise((resolve) => (release = resolve));
      await page.route(
        `**/api/sites/${domain}/imports?name=*`,
        async (route) => {
          await held;
          await route.continue();
        },
        { times: 1 },
      );
      await input.setInputFiles(zip);
      await importButton.click();
      await card.getByRole("status").filter({ hasText: "Uploading and importing… a large export takes a few minutes." }).waitFor();
      assert.equal(await importButton.getAttribute("aria-busy"), "true");
      assert.equal(await importButton.isDisabled(), true);
      assert.equal(await input.isDisabled(), true);
      await screenshot(page, "settings-imports-busy", ["phone"]);
      release();
      const result = card.locator(".result");
      // Intl writes a range with thin spaces around its dash.
      await result.getByText(/^Imported Mar 1\s–\s5, 2025\.$/).waitFor({ timeout: 60_000 });
      assert.equal(await result.locator("p").nth(1).textContent(), "Rows stored: visitors 5 and sources 4.");
      assert.equal(await result.getByText(/left out/).count(), 0, "the site has no events of its own on those days");
      assert.equal(await input.inputValue(), "", "the file input is emptied");
      const listed = card.locator(".item-list li").filter({ hasText: /Mar 1\s–\s5, 2025/ });
      await listed.waitFor();
      await listed.getByText("Plausible export").waitFor();
      await listed.getByText("9 rows").waitFor();
      await listed.getByText(/^imported /).waitFor();
      await assertAccessible(page, "the imported history with an import");
      await screenshot(page, "settings-imports");

      // The dashboard counts its visitors for those days, and says so.
      await page.goto(`${server.base}/sites/${domain}?period=custom&from=2025-03-01&to=2025-03-05`);
      await page.waitForFunction(() => document.querySelector(".top-stats[aria-busy='false'] .stat .stat-number")?.textContent === "150");
      await page.locator(".imports-note").waitFor();
      assert.match(await page.locator(".imports-note").textContent(), /imported history/);
      await assertAccessible(page, "the dashboard with imported history");
      await screenshot(page, "dashboard-imported");

      // Back in the settings, removing it asks first.
      await page.goBack();
      await page.waitForURL(`${server.base}/sites/${domain}/settings/general`);
      await listed.getByRole("button", { name: "Remove" }).click();
      const dialog = page.getByRole("dialog", { name: "Remove this imported history?" });
      await dialog.getByText(/^The imported history of Mar 1\s–\s5, 2025 \(9 rows\) will be deleted\./).waitFor();
      await dialog.getByRole("button", { name: "Remove" }).click();
      await listed.waitFor({ state: "detached" });
      await card.getByText("Nothing imported yet.").waitFor();
      const kept = await page.evaluate(async (site) => (await fetch(`/api/sites/${site}/imports`)).json(), domain);
      assert.deepEqual(kept, []);

      // And the dashboard has nothing for those days any more.
      await page.goto(`${server.base}/sites/${domain}?period=custom&from=2025-03-01&to=2025-03-05`);
      await page.waitForFunction(() => document.querySelector(".top-stats[aria-busy='false'] .stat .stat-number")?.textContent === "0");
      assert.equal(await page.locator(".imports-note").count(), 0);
      watched.assertClean();
    } finally {
      await watched.context.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await server.stopAndSearch({ "the owner's password": owner.password });
  }
});

test("the cluster section of a node alone says it runs as a single node", async () => {
  await withPage(async (page) => {
    await page.goto(`${hitkeep.base}/sites/${SITE}/settings/general`);
    // The demo's account owns the instance: the section is in the menu, after the plugins.
    const nav = page.getByRole("navigation", { name: "Settings sections" });
    await nav.getByRole("link", { name: "Cluster" }).waitFor();
    const links = await nav.getByRole("link").allTextContents();
    assert.deepEqual(links.slice(-2), ["Plugins", "Cluster"]);
    await nav.getByRole("link", { name: "Cluster" }).click();
    await page.waitForURL(`${hitkeep.base}/sites/${SITE}/settings/cluster`);
    await page.getByRole("heading", { name: "Cluster", level: 2 }).waitFor();
    const alone = page.locator(".cluster-alone");
    await alone.waitFor();
    assert.equal(
      await alone.textContent(),
      "This Hitkeep runs as a single node; running several aggregators on a NATS cluster is described in docs/operations.md.",
    );
    assert.equal(await page.locator("table.cluster-nodes").count(), 0, "no table of nodes for a node alone");
    assert.equal(await page.getByRole("button", { name: "Refresh" }).count(), 0, "nothing to refresh");
    await assertAccessible(page, "the cluster section of a node alone");
    await screenshot(page, "settings-cluster-alone");
  });
});

/**
 * Debian's `nats-server` (on PATH, or `NATS_SERVER`; `apt-get install nats-server`) with
 * JetStream on 127.0.0.1 and a free port, storing in a fresh directory; resolves once it is ready.
 */
async function startNats() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "hitkeep-e2e-nats-"));
  const child = spawn(process.env.NATS_SERVER || "nats-server", ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let failed = null;
  child.once("error", (error) => (failed = error));
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const deadline = Date.now() + 20_000;
  while (!/Server is ready/.test(output)) {
    if (failed) throw new Error(`nats-server did not start (apt-get install nats-server): ${failed.message}`);
    if (child.exitCode !== null) throw new Error(`nats-server exited (${child.exitCode}): ${output}`);
    if (Date.now() > deadline) throw new Error(`nats-server did not start: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((resolve) => child.once("exit", resolve));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test("the cluster section of a cluster's node shows it as the leader, with its position", async () => {
  const nats = await startNats();
  let server;
  try {
    server = await startHitkeep({
      env: { HITKEEP_CLUSTER: "true", HITKEEP_NATS_URL: nats.url, HITKEEP_NODE_NAME: "web-e2e", HITKEEP_CLUSTER_REPLICAS: "1" },
    });
    const owner = { email: "owner@example.com", password: "the owner's own passphrase 5" };
    const domain = "cluster.example";
    const code = new URL(server.setup).searchParams.get("code");
    const setup = await postJson(server, "/api/auth/setup", { code, ...owner, name: "Olga" });
    assert.equal(setup.status, 201, await setup.text());
    const cookie = setup.headers.get("set-cookie").split(";")[0];
    assert.equal((await postJson(server, "/api/sites", { domain, timezone: "UTC" }, cookie)).status, 201);
    // An event, through the ingest stream, for the node to store: its position moves past 0.
    // (Sent again every few seconds until it is: the embedded edge may not know the new site yet.)
    let lastSent = 0;
    let last = null;
    const view = await eventually(async () => {
      if (Date.now() - lastSent > 3000) {
        lastSent = Date.now();
        const sent = await fetch(`${server.api}/api/event`, {
          method: "POST",
          headers: { "content-type": "application/json", "user-agent": BROWSER_UA },
          body: JSON.stringify({ name: "pageview", url: `https://${domain}/`, domain }),
        });
        assert.equal(sent.status, 202, await sent.text());
      }
      // The API's own answer, once the node leads and has stored a batch.
      const answer = await fetch(`${server.api}/api/cluster`, { headers: { cookie } });
      assert.equal(answer.status, 200);
      last = await answer.json();
      const node = last.status?.nodes.find((each) => each.node === "web-e2e");
      return last.status?.leader === "web-e2e" && node?.heartbeat && node.acked >= 1 ? last : null;
    }, 60_000).catch((error) => {
      throw new Error(`${error.message}: the last answer was ${JSON.stringify(last)}`);
    });
    assert.equal(view.enabled, true);
    assert.equal(view.node, "web-e2e");
    assert.equal(view.error, null);

    const watched = await openContext(browser, server.base);
    try {
      const page = await watched.context.newPage();
      page.setDefaultTimeout(15_000);
      await page.goto(`${server.base}/login`);
      await signInWithPassword(page, owner.email, owner.password);
      await signedIn(page, server);
      await page.goto(`${server.base}/sites/${domain}/settings/cluster`);
      await page.getByRole("heading", { name: "Cluster", level: 2 }).waitFor();

      // The leader, marked as this node.
      const leader = page.locator(".cluster-facts > div").filter({ has: page.getByText("Leader", { exact: true }) });
      await leader.getByText("web-e2e", { exact: true }).waitFor();
      await leader.getByText("this node", { exact: true }).waitFor();
      // The ingest stream: what it holds, one NATS server and no other copy.
      const stream = page.locator(".cluster-facts > div").filter({ has: page.getByText("Ingest stream", { exact: true }) });
      assert.match(await stream.textContent(), /\d+ batch(es)? held, \d+(\.\d)? (bytes|kB)/);
      await page.getByText("none on other NATS servers").waitFor();

      // The table of nodes: web-e2e, the leader, this node, with its position and a recent heartbeat.
      const table = page.getByRole("table", { name: "Aggregators" });
      const headers = await table.getByRole("columnheader").allTextContents();
      assert.deepEqual(headers, ["Node", "State", "Position", "Lag", "Last heartbeat", "Address"]);
      const row = table.getByRole("row").filter({ has: page.getByRole("rowheader", { name: /web-e2e/ }) });
      await row.waitFor();
      const cells = await row.getByRole("cell").allTextContents();
      assert.equal(cells[0], "leader");
      assert.match(cells[1], /^[1-9][\d,]*$/, `a position: ${cells[1]}`);
      assert.match(cells[2], /^\d[\d,]*$/, `a lag: ${cells[2]}`);
      assert.match(cells[3], /^(now|\d+ seconds? ago)$/, `a heartbeat: ${cells[3]}`);
      assert.match(cells[4], /^http:\/\/\S+$/, `an address: ${cells[4]}`);
      assert.match(await row.getByRole("rowheader").textContent(), /^web-e2e this node$/);

      // Refreshed by keyboard: the button asks again.
      const refresh = page.getByRole("button", { name: "Refresh" });
      await refresh.focus();
      const asked = page.waitForResponse((response) => response.url().endsWith("/api/cluster") && response.status() === 200);
      await page.keyboard.press("Enter");
      await asked;
      await row.waitFor();

      await assertAccessible(page, "the cluster section of a cluster's node");
      await screenshot(page, "settings-cluster");
      await page.emulateMedia({ colorScheme: "dark" });
      await screenshot(page, "settings-cluster-dark");
      await page.emulateMedia({ colorScheme: "light" });

      // In German, numbers and words follow.
      await page.getByRole("banner").getByRole("combobox", { name: "Language" }).selectOption("de");
      await page.getByRole("heading", { name: "Cluster", level: 2 }).waitFor();
      await page.getByRole("table", { name: "Aggregatoren" }).getByText("Leader", { exact: true }).waitFor();
      await screenshot(page, "settings-cluster-de", ["phone"]);
      await page.getByRole("banner").getByRole("combobox", { name: "Sprache" }).selectOption("en");
      await page.getByRole("table", { name: "Aggregators" }).waitFor();
      watched.assertClean();
    } finally {
      await watched.context.close();
    }
  } finally {
    await server?.stopAndSearch();
    await nats.stop();
  }
});
