// Single sign-on in Chromium against a real OpenID Connect provider: the `oidc-provider`
// package, started here on loopback with a confidential client for Hitkeep. Its development
// login form takes any login; the account it names has that login as its verified address.
// Hitkeep links the provider's subject to the account of that address at the first sign-in,
// refuses an address it has no account for, and a callback opened in another browser.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";

import Provider from "oidc-provider";

import { EMAIL, SCREENSHOTS, createOwner, freePort, launch, signedInAs, signOut, startHitkeep } from "./harness.mjs";

const CLIENT_SECRET = "the client secret of hitkeep at the test provider";

let hitkeep;
let browser;
let provider;
let providerServer;

before(async () => {
  const providerPort = await freePort();
  const issuer = `http://localhost:${providerPort}`;
  hitkeep = await startHitkeep({
    config: (base, dir) => {
      const secret = join(dir, "oidc-secret");
      writeFileSync(secret, `${CLIENT_SECRET}\n`);
      provider = new Provider(issuer, {
        clients: [
          {
            client_id: "hitkeep",
            client_secret: CLIENT_SECRET,
            redirect_uris: [`${base}/login/oidc/callback`],
            grant_types: ["authorization_code"],
            response_types: ["code"],
            token_endpoint_auth_method: "client_secret_basic",
          },
        ],
        claims: { email: ["email", "email_verified"], profile: ["name"] },
        async findAccount(_ctx, id) {
          return {
            accountId: id,
            async claims() {
              return { sub: `subject-of-${id}`, email: id, email_verified: !id.startsWith("unverified"), name: id };
            },
          };
        },
        cookies: { keys: ["a cookie key for the test provider"] },
      });
      return [
        `oidc_issuer = "${issuer}"`,
        `oidc_client_id = "hitkeep"`,
        `oidc_client_secret_file = "${secret}"`,
        `oidc_name = "Test SSO"`,
        "",
      ].join("\n");
    },
  });
  providerServer = provider.listen(providerPort);
  browser = await launch();
});

const sessions = {};

after(async () => {
  await browser?.close();
  const secrets = { "the OIDC client secret": CLIENT_SECRET, ...sessions };
  providerServer?.close();
  await hitkeep?.stopAndSearch(secrets);
});

/** A browser context that reaches only localhost (the provider's pages load web fonts). */
async function localContext() {
  const context = await browser.newContext();
  await context.route(
    (url) => url.hostname !== "localhost",
    (route) => route.abort(),
  );
  return context;
}

/**
 * From Hitkeep's sign-in page through the provider's login and consent pages; a browser
 * that is signed in at the provider and gave its consent passes straight through.
 */
async function signInAtProvider(page, login) {
  await page.goto(`${hitkeep.base}/basic/login`);
  await page.getByRole("link", { name: "Sign in with Test SSO" }).click();
  await page.waitForLoadState();
  if (!page.url().startsWith(hitkeep.base)) {
    const form = page.locator('input[name="login"]');
    if (await form.isVisible()) {
      await form.fill(login);
      await page.locator('input[name="password"]').fill("anything");
      await page.getByRole("button", { name: "Sign-in" }).click();
    }
    const consent = page.getByRole("button", { name: "Continue" });
    await Promise.race([
      consent.click(),
      page.waitForURL((url) => url.origin === hitkeep.base),
    ]);
  }
}

test("single sign-on links the account of the verified address, then finds it by subject", async () => {
  const context = await localContext();
  const page = await context.newPage();
  const hitkeepRequests = [];
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.origin === hitkeep.base) hitkeepRequests.push(url.pathname);
  });
  await createOwner(page, hitkeep);
  await signOut(page, hitkeep);
  await page.screenshot({ path: join(SCREENSHOTS, "login-with-sso.png") });

  await signInAtProvider(page, EMAIL);
  assert.match(await signedInAs(page, hitkeep), new RegExp(`Signed in as ${EMAIL}`));
  for (const cookie of await context.cookies()) {
    if (cookie.name.endsWith("hitkeep_session")) sessions["the SSO session"] = cookie.value;
  }
  const audit = await (await page.request.get(`${hitkeep.base}/api/audit?limit=50`)).json();
  assert.ok(audit.some((entry) => entry.event === "identity_linked"), "linked at the first sign-in");
  assert.ok(audit.some((entry) => entry.event === "sign_in" && entry.detail === "method=oidc"));

  // The second time the subject finds the account, whatever the provider says.
  await signOut(page, hitkeep);
  await signInAtProvider(page, EMAIL);
  assert.match(await signedInAs(page, hitkeep), new RegExp(`Signed in as ${EMAIL}`));
  assert.ok(hitkeepRequests.includes("/login/oidc/callback"));
  await context.close();
});

test("an address without an account, or unverified, is refused", async () => {
  for (const [login, code] of [
    ["stranger@example.com", "no_account"],
    ["unverified@example.com", "oidc_email_unverified"],
  ]) {
    const context = await localContext();
    const page = await context.newPage();
    await signInAtProvider(page, login);
    await page.getByRole("alert").waitFor();
    assert.match(await page.getByRole("alert").textContent(), new RegExp(code));
    assert.ok(!(await context.cookies()).some((cookie) => cookie.name.includes("hitkeep_session")), "no session");
    await context.close();
  }
});

test("a callback is used once, and only in the browser that began the sign-in", async () => {
  // A browser that lost its flow cookie (as another browser has none) is refused.
  const context = await localContext();
  const page = await context.newPage();
  await page.goto(`${hitkeep.base}/basic/login`);
  await page.getByRole("link", { name: "Sign in with Test SSO" }).click();
  await page.locator('input[name="login"]').waitFor();
  await context.clearCookies({ name: "hitkeep_oidc" });
  await page.locator('input[name="login"]').fill(EMAIL);
  await page.locator('input[name="password"]').fill("anything");
  await page.getByRole("button", { name: "Sign-in" }).click();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("alert").waitFor();
  assert.match(await page.getByRole("alert").textContent(), /oidc_state_invalid/);
  assert.ok(!(await context.cookies()).some((cookie) => cookie.name.includes("hitkeep_session")), "no session");
  await context.close();

  // A callback that signed one browser in signs nobody else in.
  const first = await localContext();
  const firstPage = await first.newPage();
  let callback;
  firstPage.on("request", (request) => {
    if (request.url().startsWith(`${hitkeep.base}/login/oidc/callback`)) callback = request.url();
  });
  await signInAtProvider(firstPage, EMAIL);
  assert.match(await signedInAs(firstPage, hitkeep), new RegExp(`Signed in as ${EMAIL}`));
  assert.ok(callback, "the provider sent the browser back");
  const second = await localContext();
  const replay = await second.newPage();
  const answer = await replay.goto(callback);
  assert.equal(answer.status(), 400);
  assert.match(await replay.getByRole("alert").textContent(), /oidc_state_invalid/);
  await second.close();
  await first.close();
});
