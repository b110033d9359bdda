// The dashboard as `hitkeep serve` serves it from the binary, in headless Chromium: its
// pages load their script and stylesheet from /static/ (compressed, immutable) under the
// strict content security policy with no violation, draw themselves, and an unknown page
// is the app's "no such page" with status 404.
//
//   HK_BIN=~/.cache/hitkeep-target/debug/hitkeep npm test
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { SCREENSHOTS, createOwner, launch, startHitkeep } from "./harness.mjs";

let hitkeep;
let browser;

before(async () => {
  hitkeep = await startHitkeep();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await hitkeep?.stop();
  hitkeep?.remove();
});

test("the embedded dashboard loads under the content security policy", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  // Failed API calls are the app's business (it shows them); what fails here is a blocked
  // file, inline code or style, or a script error.
  page.on("console", (message) => {
    if (message.type() === "error" && /content security policy|csp violation/i.test(message.text())) {
      problems.push(message.text());
    }
  });
  page.on("pageerror", (error) => problems.push(error.message));
  const files = [];
  page.on("response", (response) => {
    if (new URL(response.url()).pathname.startsWith("/static/")) files.push(response);
  });
  // Report CSP violations (they also show in the console; this names the directive).
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) =>
      console.error(`csp violation: ${event.violatedDirective} ${event.blockedURI}`),
    );
  });

  await createOwner(page, hitkeep);
  for (const path of ["/", "/account"]) {
    const answer = await page.goto(`${hitkeep.base}${path}`);
    assert.equal(answer.status(), 200, path);
    assert.match(answer.headers()["content-security-policy"], /script-src 'self'/);
    // The app drew something into its root.
    await page.waitForFunction(() => document.querySelector("#app")?.children.length > 0);
  }
  await page.screenshot({ path: join(SCREENSHOTS, "dashboard.png") });

  const missing = await page.goto(`${hitkeep.base}/no/such/page`);
  assert.equal(missing.status(), 404);
  await page.waitForFunction(() => document.querySelector("#app")?.children.length > 0);

  assert.ok(files.length >= 2, `the script and the stylesheet: ${files.map((file) => file.url())}`);
  for (const file of files) {
    // A browser sends 200s, or serves them from its cache after the first.
    if (file.status() !== 200) continue;
    const headers = await file.allHeaders();
    assert.equal(headers["cache-control"], "public, max-age=31536000, immutable", file.url());
    assert.equal(headers["content-encoding"], "br", file.url());
  }
  assert.deepEqual(problems, [], "no CSP violation and no script error");
  await context.close();
});
