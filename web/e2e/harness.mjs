// What the dashboard's browser tests share: a real `hitkeep serve` on a fresh data directory
// (optionally `--demo`), Debian's Chromium through playwright-core (never a downloaded
// browser), pages that record every console error and every request to another origin,
// screenshots at desktop and phone sizes, an accessibility check with axe, and a real SMTP
// server (aiosmtpd) for the pages that need the instance to send mail.
//
//   HK_BIN=~/.cache/hitkeep-target/debug/hitkeep npm run test:e2e
//
// The binary serves the app itself (its embedded web/dist). To try pages of a working tree
// before they are built into the binary, HK_E2E_VITE=1 puts this tree's Vite dev server in
// front of it (the pages from the tree, the API proxied to the binary).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { AxeBuilder } from "@axe-core/playwright";
import { chromium } from "playwright-core";

export const HK_BIN = process.env.HK_BIN || join(homedir(), ".cache/hitkeep-target/debug/hitkeep");
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
export const SCREENSHOTS = process.env.SCREENSHOTS || "/tmp/hitkeep-screenshots";
export const EMAIL = "owner@example.com";
export const PASSWORD = "a passphrase nobody guesses 7";

/** The sizes every screenshot is taken at. */
export const SIZES = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
};

const WEB = join(dirname(fileURLToPath(import.meta.url)), "..");

/** A TCP port nobody listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(what, check, { child, output, timeoutMs = 180_000 }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = check();
    if (found) return found;
    if (child.exitCode !== null) throw new Error(`${what}: the process exited (${child.exitCode}): ${output()}`);
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s: ${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Starts this tree's Vite dev server in front of `api`; its base URL and a stop function. */
async function startVite(api) {
  const port = await freePort();
  const child = spawn(join(WEB, "node_modules/.bin/vite"), ["--port", String(port), "--strictPort", "--host", "127.0.0.1", "--bypass-lock"], {
    cwd: WEB,
    env: { ...process.env, HK_API: api },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  await waitFor("vite", () => /ready in|Local:/.test(output), { child, output: () => output, timeoutMs: 60_000 });
  return {
    base: `http://localhost:${port}`,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    },
  };
}

/**
 * Starts `hitkeep serve` on a fresh data directory, on localhost (passkeys need a domain as
 * their relying party, not an IP address). Resolves once it printed its first link: the setup
 * link (`setup`), or with `demo` the demo sign-in link (`demo`; 300k demo hits are loaded first).
 * With `config`, a function of the base URL and the directory returning TOML, it runs with that
 * file and `public_url` set to the base URL. `env` adds environment variables (`HITKEEP_*`
 * settings, say).
 */
export async function startHitkeep({ demo = false, config, env = {} } = {}) {
  if (!existsSync(HK_BIN)) throw new Error(`no hitkeep binary at ${HK_BIN} (set HK_BIN)`);
  const dir = mkdtempSync(join(tmpdir(), "hitkeep-e2e-"));
  const port = config ? await freePort() : 0;
  const args = ["serve", "--data-dir", join(dir, "data"), "--listen", `127.0.0.1:${port}`, "--nats-listen", "127.0.0.1:0"];
  if (demo) args.push("--demo");
  if (config) {
    const file = join(dir, "hitkeep.toml");
    writeFileSync(file, `public_url = "http://localhost:${port}"\n${config(`http://localhost:${port}`, dir)}`);
    args.push("--config", file);
  }
  const child = spawn(HK_BIN, args, {
    env: { ...process.env, HITKEEP_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const link = demo ? /\/login\/demo\?code=hkd_[0-9A-Za-z_-]+/ : /\/setup\?code=hku_[0-9a-f]{64}/;
  const path = (
    await waitFor("hitkeep serve printed no link", () => stdout.match(link), {
      child,
      output: () => `${stdout}\n${stderr}`,
      timeoutMs: demo ? 600_000 : 120_000,
    })
  )[0];
  const runtime = JSON.parse(readFileSync(join(dir, "data", "hitkeep.runtime.json"), "utf8"));
  const api = `http://localhost:${runtime.http.split(":").pop()}`;
  const vite = process.env.HK_E2E_VITE === "1" ? await startVite(api) : null;
  const base = vite ? vite.base : api;
  return {
    /** Where pages are opened (the binary, or Vite in front of it). */
    base,
    /** The binary's own address. */
    api,
    setup: demo ? null : base + path,
    demo: demo ? base + path : null,
    dir,
    log: () => stderr,
    stdout: () => stdout,
    /**
     * Throws if any of `secrets` is in the database file, its WAL or the log, in clear.
     * @param {Record<string, string>} secrets what each is, and its value
     */
    assertNoSecrets(secrets) {
      const files = readdirSync(join(dir, "data"))
        .filter((name) => name.startsWith("hitkeep.db"))
        .map((name) => [name, readFileSync(join(dir, "data", name))]);
      files.push(["the log", Buffer.from(stderr)]);
      for (const [file, bytes] of files) {
        for (const [what, secret] of Object.entries(secrets)) {
          if (secret) assert.ok(!bytes.includes(Buffer.from(secret)), `${what} is in ${file} in clear`);
        }
      }
    },
    /** SIGTERM and a clean exit (the database checkpointed); the files stay. */
    async stop() {
      await vite?.stop();
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
    /** Searches for `secrets` while it runs and after a clean stop; always stops and removes. */
    async stopAndSearch(secrets = {}) {
      try {
        this.assertNoSecrets(secrets);
      } finally {
        await this.stop();
      }
      try {
        this.assertNoSecrets(secrets);
      } finally {
        this.remove();
      }
    },
  };
}

/**
 * A real SMTP server for the tests (aiosmtpd, which scripts/test.sh installs) on 127.0.0.1,
 * keeping what it receives in a Maildir; `config` is what `startHitkeep({ config })` needs
 * to send through it.
 */
export async function startSmtp() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "hitkeep-e2e-smtp-"));
  const maildir = join(dir, "maildir");
  const child = spawn("python3", ["-m", "aiosmtpd", "-n", "-l", `127.0.0.1:${port}`, "-c", "aiosmtpd.handlers.Mailbox", maildir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const listening = () =>
    new Promise((resolve) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
  const deadline = Date.now() + 20_000;
  while (!(await listening())) {
    if (child.exitCode !== null) throw new Error(`aiosmtpd exited (${child.exitCode}): ${output}`);
    if (Date.now() > deadline) throw new Error(`aiosmtpd did not start: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    config: `smtp_host = "127.0.0.1"\nsmtp_port = ${port}\nsmtp_tls = "none"\nsmtp_from = "Hitkeep <hitkeep@localhost>"\n`,
    /** The messages received so far, as text. */
    messages() {
      const fresh = join(maildir, "new");
      return existsSync(fresh) ? readdirSync(fresh).map((name) => readFileSync(join(fresh, name), "utf8")) : [];
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((resolve) => child.once("exit", resolve));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Debian's Chromium, headless. */
export async function launch() {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, headless: true });
}

/**
 * A browser context whose pages report what a test must not see: console errors, uncaught
 * exceptions, requests to any origin but `base` (refused, so nothing leaves), and answers
 * of 500 or more. `problems()` lists them; `assertClean()` fails the test on any.
 *
 * Chromium logs every 4xx answer as a console error ("Failed to load resource"); those are
 * the API's expected answers (a wrong password is a 401), so they are kept apart in
 * `clientErrors` for tests that want to check them.
 */
export async function openContext(browser, base, { colorScheme = "light", viewport = SIZES.desktop } = {}) {
  const context = await browser.newContext({ colorScheme, viewport, baseURL: base });
  const origin = new URL(base).origin;
  const seen = { consoleErrors: [], pageErrors: [], foreign: [], serverErrors: [], clientErrors: [] };
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("data:") || url.startsWith("blob:") || new URL(url).origin === origin) return route.continue();
    seen.foreign.push(url);
    return route.abort("blockedbyclient");
  });
  context.on("page", (page) => watch(page, seen));
  return {
    context,
    seen,
    problems() {
      return [
        ...seen.consoleErrors.map((text) => `console error: ${text}`),
        ...seen.pageErrors.map((text) => `uncaught: ${text}`),
        ...seen.foreign.map((url) => `request to another origin: ${url}`),
        ...seen.serverErrors.map((text) => `server error: ${text}`),
      ];
    },
    assertClean() {
      assert.deepEqual(this.problems(), [], "the pages logged errors or reached another origin");
    },
  };
}

function watch(page, seen) {
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const text = message.text();
    if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(text)) {
      seen.clientErrors.push(`${text} ${message.location()?.url ?? ""}`);
      return;
    }
    seen.consoleErrors.push(`${text} (${page.url()})`);
  });
  page.on("pageerror", (error) => seen.pageErrors.push(`${error.message} (${page.url()})`));
  page.on("response", (response) => {
    if (response.status() >= 500) seen.serverErrors.push(`${response.status()} ${response.request().method()} ${response.url()}`);
  });
}

/** Adds Chromium's virtual authenticator (DevTools' WebAuthn domain) to `page`. */
export async function virtualAuthenticator(page) {
  const devtools = await page.context().newCDPSession(page);
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
  return {
    devtools,
    authenticatorId,
    async credentials() {
      return (await devtools.send("WebAuthn.getCredentials", { authenticatorId })).credentials;
    },
  };
}

/**
 * Screenshots of `page` as it is, at desktop and phone sizes (full page), into
 * `$SCREENSHOTS/<name>-<size>.png`; the viewport is put back afterwards.
 */
export async function screenshot(page, name, sizes = Object.keys(SIZES)) {
  const before = page.viewportSize();
  for (const size of sizes) {
    await page.setViewportSize(SIZES[size]);
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-${size}.png`), fullPage: true });
  }
  if (before) await page.setViewportSize(before);
}

/** Runs axe on the page; fails on any serious or critical violation. */
export async function assertAccessible(page, what) {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((violation) => violation.impact === "serious" || violation.impact === "critical");
  const described = bad.map(
    (violation) => `${violation.impact} ${violation.id}: ${violation.help} at ${violation.nodes.map((node) => node.target.join(" ")).join(", ")}`,
  );
  assert.deepEqual(described, [], `${what}: accessibility violations`);
}

/** Signs in through the demo link (`startHitkeep({ demo: true })`) and waits for the app. */
export async function signInWithDemo(page, hitkeep) {
  await page.goto(hitkeep.demo);
  await page.waitForURL(`${hitkeep.base}/`);
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

/** Waits for the signed-in app at `/` (its Sign out button). */
export async function signedIn(page, hitkeep) {
  await page.waitForURL(`${hitkeep.base}/`);
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

/** Signs out with the app's button and waits for the sign-in page. */
export async function signOut(page, hitkeep) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(`${hitkeep.base}/login`);
  await page.getByRole("heading", { name: "Sign in to Hitkeep" }).waitFor();
}

/** Fills the sign-in page's e-mail and password and submits them. */
export async function signInWithPassword(page, email = EMAIL, password = PASSWORD) {
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

/** The value of the session cookie of `context`, if any. */
export async function sessionCookie(context) {
  return (await context.cookies()).find((cookie) => cookie.name.endsWith("hitkeep_session"))?.value;
}
