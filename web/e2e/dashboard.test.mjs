// The dashboard as a person uses it, in headless Chromium against a real `hitkeep serve --demo`
// (300k demo hits, live demo traffic, the demo goals and funnels), signed in by the demo link:
// the sites list, a site's dashboard (top stats, graph, panels), filtering by clicking a
// source, ranges from the picker and the keyboard, comparisons, a view reopened from its URL,
// the funnels, a panel's details, German and dark mode, the realtime view, and share links
// (open, with a password, unknown) opened signed out. Every page is checked for console
// errors, uncaught exceptions, server errors and requests to other origins; the main pages
// pass axe and are photographed at desktop and phone sizes, light and dark.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { assertAccessible, launch, openContext, screenshot, signInWithDemo, startHitkeep } from "./harness.mjs";

const SITE = "demo.hitkeep.dev";
const DASHBOARD = `/sites/${SITE}`;

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

/**
 * Runs `body` with a page of a fresh watched context (signed in by the demo link unless
 * `signedOut`), then fails the test on any console error, uncaught exception, server error or
 * request to another origin the context saw.
 */
async function withPage(body, { signedOut = false, colorScheme = "light" } = {}) {
  const watched = await openContext(browser, hitkeep.base, { colorScheme });
  try {
    const page = await watched.context.newPage();
    page.setDefaultTimeout(15_000);
    if (!signedOut) await signInWithDemo(page, hitkeep);
    await body(page, watched);
    watched.assertClean();
  } finally {
    await watched.context.close();
  }
}

/** Polls `check` until it returns something truthy; that value. */
async function until(what, check, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s (last: ${last})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** An English number as the dashboard writes it ("1,145", "49.2K", "1.2M", "44%") as a number. */
function numberOf(text) {
  const match = /^([\d,]+(?:\.\d+)?)([KMB]?)/.exec(text.trim());
  assert.ok(match, `not a number: ${JSON.stringify(text)}`);
  return Number(match[1].replaceAll(",", "")) * { "": 1, K: 1e3, M: 1e6, B: 1e9 }[match[2]];
}

/** The top stats' unique visitors once they are loaded (the full number, not the compact one). */
async function visitors(page) {
  const text = await until("the top stats' visitors", () =>
    page.evaluate(() => {
      const number = document.querySelector(".top-stats[aria-busy='false'] .stat .stat-number");
      const text = number?.getAttribute("title") || number?.textContent || "";
      return /\d/.test(text) ? text : null;
    }),
  );
  return numberOf(text);
}

/** Waits for the top stats' visitors to differ from `before`; the new number. */
async function visitorsChangedFrom(page, before) {
  return until("the visitors number changes", async () => {
    const now = await visitors(page);
    return now !== before ? now : null;
  });
}

/** The query parameters of the page's URL. */
const params = (page) => new URL(page.url()).searchParams;

/** A panel of the dashboard: pages, sources, locations, devices or goals (its heading follows its tab). */
const panel = (page, name) => page.locator(`section.panel[aria-labelledby='panel-${name}-title']`);

/** Waits until every panel of the dashboard shows its rows, loaded (nothing loading or stale). */
async function panelsHaveRows(page) {
  await until("every panel has rows", () =>
    page.evaluate(() => {
      const panels = [...document.querySelectorAll("section.panel")];
      const settled = (one) => !one.querySelector(".report-skeleton, .stale, [aria-busy='true']");
      return panels.length === 5 && panels.every((one) => settled(one) && one.querySelectorAll(".panel-body li").length > 0);
    }),
  );
}

/** Whether the graph's uPlot canvas is there, sized, and has coloured pixels. */
async function graphDrawn(page) {
  return page.evaluate(() => {
    const canvas = document.querySelector(".uplot canvas");
    if (!canvas || canvas.width === 0 || canvas.height === 0) return false;
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    for (let at = 3; at < pixels.length; at += 4) if (pixels[at] !== 0) return true;
    return false;
  });
}

/** Waits for the dashboard of the demo site to be drawn with numbers. */
async function dashboardDrawn(page) {
  await page.getByRole("heading", { name: SITE, level: 1 }).waitFor();
  assert.ok((await visitors(page)) > 0, "the top stats show visitors");
  await until("the graph is drawn", () => graphDrawn(page));
  await panelsHaveRows(page);
}

/** Screenshots of the page at desktop and phone sizes, light and then dark. */
async function photograph(page, name) {
  // From the top (the sticky controls in place), with no hover left by the last click.
  await page.mouse.move(0, 0);
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, name);
  await page.emulateMedia({ colorScheme: "dark" });
  await screenshot(page, `${name}-dark`);
  await page.emulateMedia({ colorScheme: "light" });
}

/** Creates a share link of the demo site with the signed-in page's session; its path. */
async function createShare(page, body) {
  const answer = await page.evaluate(
    async ({ site, body }) => {
      const response = await fetch(`/api/sites/${site}/shares`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      return { status: response.status, json: await response.json() };
    },
    { site: SITE, body },
  );
  assert.equal(answer.status, 201, JSON.stringify(answer.json));
  assert.match(answer.json.path, /^\/share\/hkl_/);
  return answer.json.path;
}

test("the sites list shows the three demo sites with their numbers; the settings page", async () => {
  await withPage(async (page) => {
    await page.getByRole("heading", { name: "Your sites", level: 1 }).waitFor();
    const cards = page.locator("li.site-card");
    await until("three sites with numbers", async () => (await page.locator("li.site-card[aria-busy='false'] strong").count()) === 3);
    assert.deepEqual(await cards.locator(".site-card-link").allTextContents(), ["demo.hitkeep.dev", "docs.example", "shop.example"]);
    for (const card of await cards.all()) {
      // Today's visitors (none yet just after midnight), and a day of them in the sparkline.
      assert.ok(numberOf(await card.locator("strong").first().textContent()) >= 0, "visitors today");
      const sparkline = await card.getByRole("img", { name: /^Visitors per hour over the last 24 hours: / }).getAttribute("aria-label");
      assert.ok(numberOf(/: ([\d,]+) in all/.exec(sparkline)[1]) > 0, sparkline);
      await card.getByText(/^\d+ current visitors?$/).waitFor();
    }
    await assertAccessible(page, "the sites list");
    await photograph(page, "sites");

    // The 7-day sparklines are in the URL.
    await page.getByRole("tab", { name: "7 days" }).click();
    await page.waitForURL(/\?range=7d$/);
    await cards.first().getByRole("img", { name: /^Visitors per day over the last 7 days/ }).waitFor();

    // A site's settings, from its card.
    await page.getByRole("link", { name: `Settings of ${SITE}` }).click();
    await page.waitForURL(`${hitkeep.base}${DASHBOARD}/settings/general`);
    await page.getByRole("heading", { name: "General" }).first().waitFor();
    await assertAccessible(page, "the settings page");
  });
});

test("a site's dashboard: top stats, the graph, every panel's rows, a panel's details", async () => {
  await withPage(async (page) => {
    await page.getByRole("link", { name: SITE, exact: true }).click();
    await page.waitForURL(`${hitkeep.base}${DASHBOARD}`);
    await dashboardDrawn(page);
    const names = await page.locator(".stat .stat-name").allTextContents();
    assert.deepEqual(names, ["Unique visitors", "Total visits", "Total pageviews", "Views per visit", "Bounce rate", "Visit duration"]);
    for (const value of await page.locator(".stat .stat-number").allTextContents()) assert.match(value, /\d/, "every top stat has a number");
    // The graph's table (for screen readers) has a row per day of the last 30.
    await until("the graph has a row per day", async () => (await page.locator(".graph table tbody tr").count()) === 30);
    // The goals panel lists the demo goals.
    const goals = panel(page, "goals");
    for (const goal of ["Signup", "Purchase", "Visit /pricing", "Read the docs", "File Download"]) {
      await goals.getByRole("button", { name: `${goal} (filter the dashboard by this)` }).waitFor();
    }
    await assertAccessible(page, "the dashboard");
    await photograph(page, "dashboard");

    // The range menu, open, passes axe too.
    await page.getByRole("button", { name: "Range: Last 30 days" }).click();
    await page.getByRole("menu", { name: "Range: Last 30 days" }).waitFor();
    await assertAccessible(page, "the dashboard with the range menu open");
    await page.keyboard.press("Escape");
    await page.getByRole("menu").waitFor({ state: "detached" });

    // A panel's details: a dialog with more rows than the panel; Escape closes it.
    const sources = panel(page, "sources");
    const shown = await sources.locator(".report-row").count();
    await sources.getByRole("button", { name: /more · details/ }).click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    await until("the details list more rows", async () => (await dialog.getByRole("button", { name: /\(filter the dashboard by this\)$/ }).count()) > shown);
    await dialog.getByRole("button", { name: "Google (filter the dashboard by this)" }).waitFor();
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    assert.equal(await page.locator("dialog[open]").count(), 0);
  });
});

test("clicking a source filters the dashboard; removing the chip ends it", async () => {
  await withPage(async (page) => {
    await page.goto(`${hitkeep.base}${DASHBOARD}`);
    await dashboardDrawn(page);
    const all = await visitors(page);

    await panel(page, "sources").getByRole("button", { name: "Google (filter the dashboard by this)" }).click();
    await until("the URL has the filter", () => params(page).getAll("f").includes("is,visit:source,Google"));
    const chip = page.getByRole("button", { name: /^Edit filter: .*Google/ });
    await chip.waitFor();
    assert.match(await chip.textContent(), /Source is Google/);
    const google = await visitorsChangedFrom(page, all);
    assert.ok(google < all, `filtered visitors ${google} are fewer than ${all}`);
    // The sources panel drills into the filtered source's referrers.
    await panel(page, "sources").getByRole("heading", { name: "Referrers of Google" }).waitFor();
    await panel(page, "sources").getByRole("button", { name: "www.google.com/ (filter the dashboard by this)" }).waitFor();
    await panelsHaveRows(page);
    await until("the graph is drawn", () => graphDrawn(page));
    await photograph(page, "dashboard-filtered");

    await page.getByRole("button", { name: /^Remove filter: .*Google/ }).click();
    await until("the filter leaves the URL", () => params(page).getAll("f").length === 0);
    await chip.waitFor({ state: "detached" });
    const again = await visitorsChangedFrom(page, google);
    assert.ok(again > google, `without the filter ${again} visitors again`);
  });
});

test("ranges from the picker and the keyboard, a comparison, and the view reopened from its URL", async () => {
  await withPage(async (page) => {
    await page.goto(`${hitkeep.base}${DASHBOARD}`);
    await dashboardDrawn(page);
    const thirty = await visitors(page);

    // The picker: last 7 days.
    await page.getByRole("button", { name: "Range: Last 30 days" }).click();
    await page.getByRole("menuitemradio", { name: /^Last 7 days/ }).click();
    await until("period=7d in the URL", () => params(page).get("period") === "7d");
    await page.getByRole("button", { name: "Range: Last 7 days" }).waitFor();
    const seven = await visitorsChangedFrom(page, thirty);
    assert.ok(seven < thirty, `7 days (${seven}) have fewer visitors than 30 (${thirty})`);
    await until("the graph has a row per day", async () => (await page.locator(".graph table tbody tr").count()) === 7);

    // The keyboard: F is the last 28 days, W the last 7 again.
    await page.evaluate(() => document.activeElement?.blur());
    await page.keyboard.press("f");
    await until("period=28d in the URL", () => params(page).get("period") === "28d");
    await page.getByRole("button", { name: "Range: Last 28 days" }).waitFor();
    const twentyEight = await visitorsChangedFrom(page, seven);
    assert.ok(twentyEight > seven, `28 days (${twentyEight}) have more visitors than 7 (${seven})`);
    await page.keyboard.press("w");
    await until("period=7d in the URL", () => params(page).get("period") === "7d");

    // A comparison with the previous period: changes shown on the top stats.
    await page.getByRole("button", { name: "Comparison: No comparison" }).click();
    await page.getByRole("menuitemradio", { name: /^Previous period/ }).click();
    await until("compare=previous_period in the URL", () => params(page).get("compare") === "previous_period");
    await page.getByRole("button", { name: "Comparison: Previous period" }).waitFor();
    await until("every top stat shows its change", async () => (await page.locator(".top-stats[aria-busy='false'] .stat .stat-change").count()) === 6);
    assert.match(await page.locator(".stat").first().locator(".stat-change .visually-hidden").textContent(), /^(Up|Down) .*in the comparison period|^No change/);
    // The graph draws the comparison when its own answer arrives, which may be after the top stats'.
    await until("the graph has a comparison column", async () => /Comparison/.test(await page.locator(".graph table thead").textContent()));
    // X turns it off and on.
    await page.keyboard.press("x");
    await until("no comparison in the URL", () => !params(page).has("compare"));
    await until("no changes shown", async () => (await page.locator(".stat .stat-change").count()) === 0);
    await page.keyboard.press("x");
    await until("compare=previous_period in the URL", () => params(page).get("compare") === "previous_period");

    // With a filter too, the URL is the whole view: a new tab opens the same one.
    await panel(page, "sources").getByRole("button", { name: "Google (filter the dashboard by this)" }).click();
    await until("the URL has the filter", () => params(page).getAll("f").includes("is,visit:source,Google"));
    const url = page.url();
    const copy = await page.context().newPage();
    await copy.goto(url);
    await copy.getByRole("heading", { name: SITE, level: 1 }).waitFor();
    assert.equal(copy.url(), url);
    await copy.getByRole("button", { name: "Range: Last 7 days" }).waitFor();
    await copy.getByRole("button", { name: "Comparison: Previous period" }).waitFor();
    await copy.getByRole("button", { name: /^Edit filter: .*Google/ }).waitFor();
    await panel(copy, "sources").getByRole("heading", { name: "Referrers of Google" }).waitFor();
    await until("the copy shows the changes", async () => (await copy.locator(".top-stats[aria-busy='false'] .stat .stat-change").count()) === 6);
    const filtered = await visitors(page);
    const reopened = await visitors(copy);
    // Live demo traffic may add a visitor between the two.
    assert.ok(Math.abs(reopened - filtered) <= Math.max(3, filtered * 0.01), `the same numbers: ${reopened} and ${filtered}`);
    await until("the copy's graph has a row per day", async () => (await copy.locator(".graph table tbody tr").count()) === 7);
  });
});

test("the goals panel's funnels: the Signup funnel's steps lose visitors", async () => {
  await withPage(async (page) => {
    await page.goto(`${hitkeep.base}${DASHBOARD}`);
    await dashboardDrawn(page);
    const goals = panel(page, "goals");
    await goals.getByRole("tab", { name: "Funnels" }).click();
    await until("the funnels tab is in the URL", () => params(page).get("goals") === "funnels");
    await goals.getByRole("heading", { name: "Funnels" }).waitFor();
    const picker = goals.getByRole("combobox", { name: "Funnel" });
    await picker.waitFor();
    await picker.selectOption("Signup");
    const steps = page.locator(".funnel-steps:not(.stale) .funnel-step");
    await until("three steps drawn", async () => (await steps.count()) === 3);
    assert.deepEqual(await steps.locator(".funnel-step-name").allTextContents(), ["/pricing", "/signup", "Signup"]);
    const counts = (await steps.locator(".funnel-step-visitors").allTextContents()).map((text) => numberOf(text));
    assert.ok(counts[0] > 0, `visitors enter the funnel: ${counts}`);
    for (let at = 1; at < counts.length; at++) assert.ok(counts[at] <= counts[at - 1], `visitors only drop: ${counts}`);
    assert.ok(counts[2] < counts[0], `some leave: ${counts}`);
    await goals.getByText(/^[\d.]+% converted$/).waitFor();
    // The bars are drawn in proportion.
    const widths = await steps.locator(".funnel-fill").evaluateAll((bars) => bars.map((bar) => bar.getBoundingClientRect().width));
    assert.ok(widths[0] > widths[2] && widths[2] > 0, `bars ${widths}`);
    await photograph(page, "funnel");

    // shop.example's Checkout funnel, from the URL.
    await page.goto(`${hitkeep.base}/sites/shop.example?goals=funnels&funnel=Checkout`);
    await until("Checkout's steps drawn", async () => (await page.locator(".funnel-steps:not(.stale) .funnel-step").count()) >= 2);
    assert.equal(await panel(page, "goals").getByRole("combobox", { name: "Funnel" }).inputValue(), "Checkout");
  });
});

test("German and back, and the dark theme", async () => {
  await withPage(async (page) => {
    await page.goto(`${hitkeep.base}${DASHBOARD}`);
    await dashboardDrawn(page);
    const sources = panel(page, "sources");
    const share = () => sources.locator(".report-row").first().locator(".report-number").nth(1).textContent();
    const graphCells = () => page.locator(".graph table tbody td").allTextContents();
    assert.match((await share()).trim(), /\d%$/, "English percentages: 43%");
    assert.ok((await graphCells()).some((cell) => /^\d{1,3},\d{3}$/.test(cell.trim())), "English thousands: 1,145");

    await page.getByRole("combobox", { name: "Language" }).selectOption("de");
    await page.getByRole("heading", { name: "Top-Quellen", level: 2 }).waitFor();
    assert.equal(await page.locator("html").getAttribute("lang"), "de");
    await page.getByRole("button", { name: "Abmelden" }).waitFor();
    await page.getByRole("button", { name: /^Zeitraum: / }).waitFor();
    // German numbers: "43 %" and "1.145".
    await until("German percentages", async () => /\d\s%$/.test((await share()).trim()));
    const cells = await graphCells();
    assert.ok(cells.some((cell) => /^\d{1,3}\.\d{3}$/.test(cell.trim())), `German thousands in ${cells.slice(0, 5)}`);
    await page.getByRole("combobox", { name: "Sprache" }).selectOption("en");
    await page.getByRole("heading", { name: "Top sources", level: 2 }).waitFor();
    assert.equal(await page.locator("html").getAttribute("lang"), "en");

    const brightness = async () => {
      const colour = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      const [red, green, blue, alpha = 1] = colour.match(/[\d.]+/g).map(Number);
      assert.equal(alpha, 1, `an opaque background: ${colour}`);
      return red + green + blue;
    };
    assert.ok((await brightness()) > 600, "a light background");
    await page.getByRole("combobox", { name: "Theme" }).selectOption("dark");
    assert.equal(await page.locator("html").getAttribute("data-theme"), "dark");
    assert.ok((await brightness()) < 200, "a dark background");
    await until("the graph is drawn again", () => graphDrawn(page));
    // Kept in this browser: a reload stays dark.
    await page.reload();
    await page.getByRole("heading", { name: SITE, level: 1 }).waitFor();
    assert.equal(await page.locator("html").getAttribute("data-theme"), "dark");
    await page.getByRole("combobox", { name: "Theme" }).selectOption("light");
    assert.equal(await page.locator("html").getAttribute("data-theme"), "light");
  });
});

test("the realtime view shows the current visitors", async () => {
  await withPage(async (page) => {
    await page.goto(`${hitkeep.base}${DASHBOARD}`);
    await page.getByRole("heading", { name: SITE, level: 1 }).waitFor();
    const live = page.getByRole("link", { name: /^\d+ current visitors?$/ });
    await live.click();
    await until("period=realtime in the URL", () => params(page).get("period") === "realtime");
    const names = await page.locator(".stat .stat-name").allTextContents();
    assert.deepEqual(names, ["Current visitors", "Pageviews (last 30 min)"]);
    const current = await until("current visitors shown", async () => {
      const text = await page.locator(".stat").first().locator(".stat-number").textContent();
      return /\d/.test(text) ? numberOf(text) : null;
    });
    assert.ok(current > 0, `the live demo has visitors now: ${current}`);
    assert.ok(numberOf(await page.locator(".stat").nth(1).locator(".stat-number").textContent()) > 0, "pageviews in the last 30 minutes");
    await until("the graph is drawn", () => graphDrawn(page));
    await panelsHaveRows(page);
    // Comparisons need a range of days.
    assert.ok(await page.getByRole("button", { name: "Compare", exact: true }).isDisabled());
  });
});

test("share links: open signed out, with a password, and an unknown one", async () => {
  let open;
  let locked;
  await withPage(async (page) => {
    await page.goto(`${hitkeep.base}${DASHBOARD}`);
    await page.getByRole("heading", { name: SITE, level: 1 }).waitFor();
    open = await createShare(page, { name: "e2e-public" });
    locked = await createShare(page, { name: "e2e-locked", password: "a share password 42" });
  });

  await withPage(
    async (page, watched) => {
      await page.goto(`${hitkeep.base}${open}`);
      await dashboardDrawn(page);
      await page.getByText("e2e-public").waitFor();
      assert.equal(await page.getByRole("link", { name: "Settings" }).count(), 0, "no settings under a share link");
      assert.equal(await page.getByRole("button", { name: "Sign out" }).count(), 0);
      assert.equal(await page.locator("a.report-external").count(), 0, "no links out under a share link");
      // Filters work and stay under the share link.
      await panel(page, "sources").getByRole("button", { name: "Google (filter the dashboard by this)" }).click();
      await until("the filter in the share link's URL", () => page.url().startsWith(`${hitkeep.base}${open}?`) && params(page).getAll("f").includes("is,visit:source,Google"));
      await page.getByRole("button", { name: /^Edit filter: .*Google/ }).waitFor();
      await page.getByRole("button", { name: /^Remove filter: / }).click();
      await until("no filter", () => params(page).getAll("f").length === 0);
      await panelsHaveRows(page);
      await assertAccessible(page, "a share link's page");
      await photograph(page, "share");

      // A password: asked for, a wrong one refused, the right one opens the dashboard.
      await page.goto(`${hitkeep.base}${locked}`);
      await page.getByRole("heading", { name: "This dashboard is protected" }).waitFor();
      assert.equal(await page.locator(".top-stats").count(), 0, "nothing shown before the password");
      await assertAccessible(page, "a share link's password page");
      await page.getByLabel("Password").fill("not the password");
      await page.getByRole("button", { name: "Open the dashboard" }).click();
      await page.getByRole("alert").filter({ hasText: "The password is wrong." }).waitFor();
      assert.ok(watched.seen.clientErrors.some((text) => /status of 401/.test(text)), "the wrong password was a 401");
      await photograph(page, "share-password");
      await page.getByLabel("Password").fill("a share password 42");
      await page.getByRole("button", { name: "Open the dashboard" }).click();
      await dashboardDrawn(page);
      await page.getByText("e2e-locked").waitFor();
      // The unlocking lasts for this tab: a reload does not ask again.
      await page.reload();
      await dashboardDrawn(page);

      // An unknown code.
      await page.goto(`${hitkeep.base}/share/hkl_${"0".repeat(40)}`);
      await page.getByRole("alert").filter({ hasText: "This share link does not exist or has been revoked." }).waitFor();
      await photograph(page, "share-unknown");
    },
    { signedOut: true },
  );
});
