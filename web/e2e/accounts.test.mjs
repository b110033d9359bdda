// The app's sign-in pages and account page as a person meets them, in headless Chromium
// against the real `hitkeep serve`: first-run setup through the printed link, signing out and
// in with the password, an authenticator app (codes from the independent `otpauth`
// package) and a sign-in with its code, a passkey made by Chromium's virtual authenticator
// and a sign-in with it alone and as the second step, an API token created and revoked,
// sessions, and a wrong password. No page may log an error or reach another origin; the
// sign-in and account pages pass axe; every page is photographed at desktop and phone sizes.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import * as OTPAuth from "otpauth";

import {
  EMAIL,
  PASSWORD,
  assertAccessible,
  launch,
  openContext,
  screenshot,
  sessionCookie,
  signInWithPassword,
  signOut,
  signedIn,
  startHitkeep,
  virtualAuthenticator,
} from "./harness.mjs";

let hitkeep;
let browser;
const secrets = { "the password": PASSWORD };

before(async () => {
  hitkeep = await startHitkeep();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  // No password, session, authenticator key, recovery code or API token in clear.
  await hitkeep?.stopAndSearch(secrets);
});

async function rememberSession(context) {
  const value = await sessionCookie(context);
  if (value) secrets[`session ${Object.keys(secrets).length}`] = value;
}

/** Signs in outside the browser with the password and a recovery code; the session's cookie. */
async function signInElsewhere(recoveryCode) {
  const headers = { "content-type": "application/json", origin: hitkeep.api };
  const first = await fetch(`${hitkeep.api}/api/auth/login`, { method: "POST", headers, body: JSON.stringify({ email: EMAIL, password: PASSWORD }) });
  assert.equal(first.status, 202, "the password asks for a second factor");
  const { challenge } = await first.json();
  const second = await fetch(`${hitkeep.api}/api/auth/login/second-factor`, { method: "POST", headers, body: JSON.stringify({ challenge, code: recoveryCode }) });
  assert.equal(second.status, 200, "the recovery code signs in");
  return /hitkeep_session=([^;]+)/.exec(second.headers.get("set-cookie"))[1];
}

/** The account page's section of `title`. */
const section = (page, title) => page.locator("section", { has: page.getByRole("heading", { name: title, exact: true }) });

test("setup, password, authenticator app, passkeys, tokens and sessions in the app", async () => {
  const watched = await openContext(browser, hitkeep.base);
  const { context } = watched;
  const page = await context.newPage();
  const authenticator = await virtualAuthenticator(page);
  // A switch for the test: this tab's browser pretends to have no passkey autofill.
  await page.addInitScript(() => {
    if (sessionStorage.getItem("e2e-no-autofill") && window.PublicKeyCredential) {
      PublicKeyCredential.isConditionalMediationAvailable = async () => false;
    }
  });

  // The printed link opens the app's setup page, which creates the owner and signs in.
  await page.goto(hitkeep.setup);
  await page.getByRole("heading", { name: "Set up Hitkeep" }).waitFor();
  await page.getByLabel("Name").fill("Olga Owner");
  await page.getByLabel("E-mail").fill(EMAIL);
  await page.getByLabel("Password", { exact: true }).fill("short");
  await page.getByText("Too short: at least 10 characters.").waitFor();
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByText("Strong.").waitFor();
  await screenshot(page, "setup");
  await page.getByRole("button", { name: "Create the owner" }).click();
  await signedIn(page, hitkeep);
  await rememberSession(context);

  // Signed out, the sign-in page; a wrong password is refused with its sentence.
  await signOut(page, hitkeep);
  await assertAccessible(page, "the sign-in page");
  await screenshot(page, "login");
  await signInWithPassword(page, EMAIL, "not the password at all");
  await page.getByRole("alert").filter({ hasText: "The e-mail address or the password is wrong." }).waitFor();
  await screenshot(page, "login-wrong-password");
  assert.ok(watched.seen.clientErrors.some((line) => line.includes("401")), "the wrong password was a 401");

  // The password signs in.
  await signInWithPassword(page);
  await signedIn(page, hitkeep);
  await rememberSession(context);

  // The account page: profile, and the authenticator app set up with a code from otpauth.
  await page.getByRole("link", { name: "Account" }).click();
  await page.waitForURL(`${hitkeep.base}/account`);
  await page.getByRole("heading", { name: "Your account" }).waitFor();
  await section(page, "Profile").getByText(EMAIL).waitFor();
  await section(page, "Sessions").getByText("this one").waitFor();
  await assertAccessible(page, "the account page");
  await screenshot(page, "account");
  // Their own name, changed in place.
  const profile = section(page, "Profile");
  await profile.getByRole("button", { name: "Change" }).click();
  await profile.getByLabel("New name").fill("Grace H.");
  await assertAccessible(page, "the name form");
  await screenshot(page, "account-name-form");
  await profile.getByRole("button", { name: "Save" }).click();
  await profile.getByText("Grace H.").waitFor();
  const app = section(page, "Authenticator app");
  await app.getByRole("button", { name: "Set up an authenticator app" }).click();
  await app.getByLabel("Your password").fill(PASSWORD);
  await app.getByRole("button", { name: "Continue" }).click();
  const qr = app.getByRole("img", { name: "QR code of the authenticator key" });
  await qr.waitFor();
  assert.match(await qr.getAttribute("src"), /^data:image\/svg\+xml;base64,/);
  assert.ok(await qr.evaluate((image) => image.complete && image.naturalWidth > 0), "the QR code is drawn");
  const key = await page.locator("#totp-secret").getAttribute("data-secret");
  secrets["the TOTP key"] = key;
  await screenshot(page, "account-totp-enrolment");
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(key), digits: 6, period: 30 });
  await app.getByLabel("Then enter the 6-digit code it shows").fill(totp.generate());
  await app.getByRole("button", { name: "Turn it on" }).click();
  const codes = page.locator("#recovery-codes li");
  await codes.first().waitFor();
  assert.equal(await codes.count(), 10);
  for (const [index, code] of (await codes.allTextContents()).entries()) secrets[`recovery code ${index}`] = code.trim();
  await screenshot(page, "account-recovery-codes");
  await app.getByRole("button", { name: "I have saved them" }).click();
  await app.getByText("Sign-ins ask for a code from your app.").waitFor();
  await app.getByText("10 recovery codes left.").waitFor();

  // Password, then the next code (one step ahead is allowed; the current one was used).
  await signOut(page, hitkeep);
  await signInWithPassword(page);
  await page.getByRole("heading", { name: "Confirm it is you" }).waitFor();
  await screenshot(page, "login-second-factor");
  await page.getByLabel("Code").fill(totp.generate({ timestamp: Date.now() + 30_000 }));
  await page.getByRole("button", { name: "Verify" }).click();
  await signedIn(page, hitkeep);
  await rememberSession(context);

  // A passkey, made by the virtual authenticator on the account page.
  await page.goto(`${hitkeep.base}/account`);
  const passkeys = section(page, "Passkeys");
  await passkeys.getByRole("button", { name: "Add a passkey" }).click();
  await passkeys.getByLabel("Name of the passkey").fill("laptop");
  await passkeys.getByLabel("Your password").fill(PASSWORD);
  await passkeys.getByRole("button", { name: "Add a passkey" }).click();
  await passkeys.locator("#passkey-list").getByText("laptop").waitFor();
  const credentials = await authenticator.credentials();
  assert.equal(credentials.length, 1);
  assert.equal(credentials[0].isResidentCredential, true, "a discoverable credential");
  assert.equal(credentials[0].rpId, "localhost");

  // Signed out, the sign-in page offers the passkey in the e-mail field's autofill (the
  // conditional request): the virtual authenticator, always present, takes the offer at once.
  await signOut(page, hitkeep);
  await signedIn(page, hitkeep);
  await rememberSession(context);

  // The button: the passkey alone signs in, no address, no password. From here on this tab's
  // browser offers no autofill, so that only the buttons ask for the passkey.
  await page.evaluate(() => sessionStorage.setItem("e2e-no-autofill", "1"));
  await signOut(page, hitkeep);
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await signedIn(page, hitkeep);
  await rememberSession(context);

  // Password, then the passkey as the second step.
  await signOut(page, hitkeep);
  await signInWithPassword(page);
  await page.getByRole("button", { name: "Use a passkey" }).click();
  await signedIn(page, hitkeep);
  await rememberSession(context);
  const audit = await (await page.request.get(`${hitkeep.base}/api/audit?limit=100`)).json();
  const methods = audit.filter((entry) => entry.event === "sign_in").map((entry) => entry.detail);
  for (const method of ["setup", "password", "password+totp", "passkey", "password+passkey"]) {
    assert.ok(methods.includes(`method=${method}`), `${method} in ${methods}`);
  }

  // An API token: created (its secret shown once, and it works), then revoked (refused).
  await page.goto(`${hitkeep.base}/account`);
  const tokens = section(page, "API tokens");
  await tokens.getByText("No tokens yet.").waitFor();
  await tokens.getByRole("button", { name: "New token" }).click();
  await tokens.getByLabel("Name").fill("ci export");
  await tokens.getByText("Letters, digits, dots, dashes and underscores.").waitFor();
  assert.equal(await tokens.getByRole("button", { name: "Create the token" }).isDisabled(), true, "a name with a space is refused");
  await tokens.getByLabel("Name").fill("ci-export");
  await tokens.getByLabel("Scope").selectOption("read");
  await screenshot(page, "account-token-form");
  await tokens.getByRole("button", { name: "Create the token" }).click();
  const secret = (await tokens.locator("#token-secret").textContent()).trim();
  assert.match(secret, /^hkt_/);
  secrets["the API token"] = secret;
  await tokens.getByRole("cell", { name: "ci-export", exact: true }).waitFor();
  await screenshot(page, "account-token-made");
  const bearer = { headers: { authorization: `Bearer ${secret}` } };
  assert.equal((await fetch(`${hitkeep.api}/api/sites`, bearer)).status, 200, "the new token works");
  await tokens.getByRole("button", { name: "Done" }).click();
  await tokens.getByRole("button", { name: "Revoke ci-export" }).click();
  const dialog = page.getByRole("dialog", { name: "Revoke the token" });
  await dialog.getByRole("button", { name: "Revoke", exact: true }).click();
  await tokens.getByText("No tokens yet.").waitFor();
  assert.equal((await fetch(`${hitkeep.api}/api/sites`, bearer)).status, 401, "the revoked token is refused");

  // Sessions: a second one, opened elsewhere (a program signing in with the password and a
  // recovery code), is listed beside this one and ended from here.
  const other = await signInElsewhere(secrets["recovery code 1"]);
  secrets["the other session"] = other;
  await page.reload();
  const sessions = section(page, "Sessions");
  await sessions.getByText("this one").waitFor();
  await sessions.getByText("password + recovery code").waitFor();
  assert.equal(await sessions.locator("tbody tr").count(), 2);
  await screenshot(page, "account-sessions");
  await sessions.getByRole("button", { name: "Sign out everywhere else" }).click();
  await sessions.getByRole("button", { name: "Sign out everywhere else" }).waitFor({ state: "detached" });
  assert.equal(await sessions.locator("tbody tr").count(), 1);
  const ended = await fetch(`${hitkeep.api}/api/account`, { headers: { cookie: `hitkeep_session=${other}` } });
  assert.equal(ended.status, 401, "the other session has ended");

  watched.assertClean();
  await context.close();
});

test("the pages in dark mode, and the signed-out pages' other states", async () => {
  const watched = await openContext(browser, hitkeep.base, { colorScheme: "dark" });
  const page = await watched.context.newPage();
  await page.goto(`${hitkeep.base}/login`);
  await page.getByRole("heading", { name: "Sign in to Hitkeep" }).waitFor();
  await assertAccessible(page, "the sign-in page, dark");
  await screenshot(page, "login-dark");

  // The setup link works once: afterwards the page says so.
  await page.goto(hitkeep.setup);
  await page.getByText("This instance has an owner already.").waitFor();
  await screenshot(page, "setup-done-dark");

  // No e-mail on this instance: the reset page says whom to ask.
  await page.goto(`${hitkeep.base}/reset`);
  await page.getByText("This instance sends no e-mail.").waitFor();
  await screenshot(page, "reset-dark");

  // An invitation that does not exist.
  await page.goto(`${hitkeep.base}/invite?code=hki_${"0".repeat(64)}`);
  await page.getByRole("alert").filter({ hasText: "This invitation is not valid" }).waitFor();
  await screenshot(page, "invite-invalid-dark");

  // The account page, dark.
  await page.goto(`${hitkeep.base}/login?next=/account`);
  await signInWithPassword(page);
  // The account has an authenticator app: a recovery code this time.
  await page.getByRole("button", { name: "Use a recovery code instead" }).click();
  await page.getByLabel("Recovery code").fill(secrets["recovery code 0"]);
  await page.getByRole("button", { name: "Verify" }).click();
  await page.waitForURL(`${hitkeep.base}/account`);
  await page.getByRole("heading", { name: "Your account" }).waitFor();
  await page.getByText("8 recovery codes left.").waitFor();
  await assertAccessible(page, "the account page, dark");
  await screenshot(page, "account-dark");

  watched.assertClean();
  await watched.context.close();
});
