// Accounts as a person meets them, in headless Chromium (Debian's; never a downloaded one)
// against the real `hitkeep serve`: the first-run setup through the printed link, a
// passkey added with Chromium's virtual authenticator (DevTools' WebAuthn domain) and used
// to sign in without a password, an authenticator app whose codes come from an independent
// implementation (the `otpauth` package), a passkey as the second step, and a wrong password.
// Every request the pages make stays on Hitkeep's own origin.
//
//   HK_BIN=~/.cache/hitkeep-target/debug/hitkeep npm test
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";

import * as OTPAuth from "otpauth";

import { EMAIL, PASSWORD, SCREENSHOTS, createOwner, launch, signedInAs, signOut, startHitkeep } from "./harness.mjs";

let hitkeep;
let browser;

before(async () => {
  hitkeep = await startHitkeep();
  browser = await launch();
});

const secrets = { "the password": PASSWORD };

after(async () => {
  await browser?.close();
  // No password, session, authenticator key or recovery code in clear.
  await hitkeep?.stopAndSearch(secrets);
});

/** Records the session cookie of the context as a secret to look for. */
async function rememberSession(context, what) {
  const session = (await context.cookies()).find((cookie) => cookie.name.endsWith("hitkeep_session"));
  if (session) secrets[what] = session.value;
}

/** A page whose every request is recorded, with a virtual authenticator attached. */
async function openPage(context) {
  const page = await context.newPage();
  const requests = [];
  page.on("request", (request) => requests.push(request.url()));
  const devtools = await context.newCDPSession(page);
  await devtools.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId } = await devtools.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      ctap2Version: "ctap2_1",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { page, requests, devtools, authenticatorId };
}


test("setup, passkeys, an authenticator app and a wrong password, in Chromium", async () => {
  const context = await browser.newContext();
  const { page, requests, devtools, authenticatorId } = await openPage(context);

  // The printed link creates the owner and signs them in.
  await createOwner(page, hitkeep, "setup.png");
  await rememberSession(context, "the setup session");

  // A passkey, made by the virtual authenticator.
  await page.getByLabel("Name of the new passkey").fill("laptop");
  await page.locator("#passkey-password").fill(PASSWORD);
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await page.locator("#passkeys", { hasText: "laptop" }).waitFor();
  await page.screenshot({ path: join(SCREENSHOTS, "home-with-passkey.png") });
  const { credentials } = await devtools.send("WebAuthn.getCredentials", { authenticatorId });
  assert.equal(credentials.length, 1);
  assert.equal(credentials[0].isResidentCredential, true, "a discoverable credential");
  assert.equal(credentials[0].rpId, "localhost");

  // Signed out, the passkey alone signs in: no address, no password.
  await signOut(page, hitkeep);
  await page.screenshot({ path: join(SCREENSHOTS, "login.png") });
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  assert.match(await signedInAs(page, hitkeep), new RegExp(`Signed in as ${EMAIL}`));
  await rememberSession(context, `session ${Object.keys(secrets).length}`);

  // An authenticator app: the page shows the QR code (drawn by Hitkeep, inline) and the
  // key; the codes come from otpauth, not from Hitkeep.
  await page.locator("#totp-password").fill(PASSWORD);
  await page.getByRole("button", { name: "Set up an authenticator app" }).click();
  await page.locator(".qr svg").waitFor();
  await page.screenshot({ path: join(SCREENSHOTS, "totp-enrolment.png") });
  const key = (await page.locator("#totp-secret").textContent()).trim();
  secrets["the TOTP key"] = key;
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(key), digits: 6, period: 30 });
  await page.getByLabel("The 6-digit code it shows").fill(totp.generate());
  await page.getByRole("button", { name: "Turn it on" }).click();
  assert.equal(await page.locator("#recovery-codes li").count(), 10);
  for (const [index, code] of (await page.locator("#recovery-codes li").allTextContents()).entries()) {
    secrets[`recovery code ${index}`] = code.trim();
  }
  await page.screenshot({ path: join(SCREENSHOTS, "recovery-codes.png") });
  await page.getByRole("link", { name: "Done" }).click();
  await page.getByText("On: sign-ins ask for its code.").waitFor();

  // Password, then the next code (one step ahead is allowed; the current one was used).
  await signOut(page, hitkeep);
  await page.getByLabel("E-mail").fill(EMAIL);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByLabel("Code").waitFor();
  await page.screenshot({ path: join(SCREENSHOTS, "second-factor.png") });
  await page.getByLabel("Code").fill(totp.generate({ timestamp: Date.now() + 30_000 }));
  await page.getByRole("button", { name: "Verify" }).click();
  assert.match(await signedInAs(page, hitkeep), new RegExp(`Signed in as ${EMAIL}`));
  await rememberSession(context, `session ${Object.keys(secrets).length}`);

  // Password, then the passkey as the second step.
  await signOut(page, hitkeep);
  await page.getByLabel("E-mail").fill(EMAIL);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("button", { name: "Use a passkey" }).click();
  assert.match(await signedInAs(page, hitkeep), new RegExp(`Signed in as ${EMAIL}`));
  await rememberSession(context, `session ${Object.keys(secrets).length}`);
  const audit = await (await page.request.get(`${hitkeep.base}/api/audit?limit=100`)).json();
  const methods = audit.filter((entry) => entry.event === "sign_in").map((entry) => entry.detail);
  for (const method of ["setup", "passkey", "password+totp", "password+passkey"]) {
    assert.ok(methods.includes(`method=${method}`), `${method} in ${methods}`);
  }

  // A wrong password is refused with its code, and no session is made.
  await signOut(page, hitkeep);
  await page.getByLabel("E-mail").fill(EMAIL);
  await page.getByLabel("Password").fill("not the password at all");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("alert").waitFor();
  assert.match(await page.getByRole("alert").textContent(), /invalid_credentials/);
  await page.screenshot({ path: join(SCREENSHOTS, "wrong-password.png") });

  const foreign = requests.filter((url) => !url.startsWith(hitkeep.base));
  assert.deepEqual(foreign, [], "no request leaves Hitkeep's origin");
  await context.close();
});
