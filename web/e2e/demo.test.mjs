// The harness's demo mode, as the dashboard's tests use it: `serve --demo`, its sign-in link,
// and the account page of the demo owner, who has no password (so nothing asks for one).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import * as OTPAuth from "otpauth";

import { assertAccessible, launch, openContext, screenshot, signInWithDemo, startHitkeep } from "./harness.mjs";

let hitkeep;
let browser;
const secrets = {};

before(async () => {
  hitkeep = await startHitkeep({ demo: true });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await hitkeep?.stopAndSearch(secrets);
});

test("the demo link signs in; a password-less account sets up an authenticator app", async () => {
  const watched = await openContext(browser, hitkeep.base);
  const page = await watched.context.newPage();
  await signInWithDemo(page, hitkeep);
  await page.goto(`${hitkeep.base}/account`);
  await page.getByRole("heading", { name: "Your account" }).waitFor();
  await page.getByText("demo@localhost").waitFor();
  await page.getByRole("heading", { name: "Set a password" }).waitFor();
  assert.equal(await page.getByLabel("Current password").count(), 0, "no current password to give");
  await assertAccessible(page, "the demo owner's account page");
  await screenshot(page, "demo-account");

  // No password to confirm with: the key comes at once.
  const app = page.locator("section", { has: page.getByRole("heading", { name: "Authenticator app", exact: true }) });
  assert.equal(await app.getByLabel("Your password").count(), 0);
  await app.getByRole("button", { name: "Set up an authenticator app" }).click();
  const key = await page.locator("#totp-secret").getAttribute("data-secret");
  secrets["the TOTP key"] = key;
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(key), digits: 6, period: 30 });
  await app.getByLabel("Then enter the 6-digit code it shows").fill(totp.generate());
  await app.getByRole("button", { name: "Turn it on" }).click();
  await page.locator("#recovery-codes li").first().waitFor();
  await app.getByRole("button", { name: "I have saved them" }).click();
  await app.getByText("Sign-ins ask for a code from your app.").waitFor();

  // Removing it asks for a current code instead of a password.
  await app.getByRole("button", { name: "Remove the app" }).click();
  const dialog = page.getByRole("dialog", { name: "Remove the app" });
  await dialog.getByLabel("Code from your app").fill("000000");
  await dialog.getByRole("button", { name: "Remove the app" }).click();
  await dialog.getByRole("alert").waitFor();
  assert.match(await dialog.getByRole("alert").textContent(), /not right|used already/);
  await dialog.getByRole("button", { name: "Cancel" }).click();

  // The instance requires a second factor, and the demo owner removes theirs: the app then
  // keeps them on the account page, with a banner, until they set one up again.
  const requireFactor = (on) =>
    page.evaluate(async (body) => {
      const answer = await fetch("/api/instance/settings", { method: "PUT", headers: { "content-type": "application/json" }, body });
      return answer.status;
    }, JSON.stringify({ require_second_factor: on }));
  assert.equal(await requireFactor(true), 200);
  await app.getByRole("button", { name: "Remove the app" }).click();
  await dialog.getByLabel("Code from your app").fill(totp.generate({ timestamp: Date.now() + 30_000 }));
  await dialog.getByRole("button", { name: "Remove the app" }).click();
  await app.getByRole("button", { name: "Set up an authenticator app" }).waitFor();
  await page.goto(`${hitkeep.base}/`);
  await page.waitForURL(`${hitkeep.base}/account`);
  await page.getByRole("alert").filter({ hasText: "Set up a second factor to continue" }).waitFor();
  assert.equal(await page.getByRole("heading", { name: "API tokens" }).count(), 0, "nothing but the account while locked");
  await screenshot(page, "demo-account-must-enrol");

  watched.assertClean();
  await watched.context.close();
});
