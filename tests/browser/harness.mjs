// What the page tests share: `hitkeep serve` on a fresh data directory, Debian's Chromium,
// and the steps every test takes (the first owner, signing in and out).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { chromium } from "playwright-core";

export const HK_BIN = process.env.HK_BIN;
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
export const SCREENSHOTS = process.env.SCREENSHOTS || join(tmpdir(), "hitkeep-screenshots");
export const EMAIL = "owner@example.com";
export const PASSWORD = "a passphrase nobody guesses 7";

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

/**
 * Starts `hitkeep serve` on a fresh data directory and resolves once it printed its setup
 * link. Passkeys need a domain as their relying party, so pages are opened on localhost.
 * With `config`, a function of the base URL returning TOML, the server runs with that file
 * and `public_url` set to the base URL (single sign-on needs the address people open).
 */
export async function startHitkeep({ config } = {}) {
  if (!HK_BIN || !existsSync(HK_BIN)) throw new Error(`set HK_BIN to a built hitkeep binary (got ${HK_BIN})`);
  const dir = mkdtempSync(join(tmpdir(), "hitkeep-browser-"));
  const port = config ? await freePort() : 0;
  const args = ["serve", "--data-dir", join(dir, "data"), "--listen", `127.0.0.1:${port}`];
  if (config) {
    const file = join(dir, "hitkeep.toml");
    const base = `http://localhost:${port}`;
    writeFileSync(file, `public_url = "${base}"\n${config(base, dir)}`);
    args.push("--config", file);
  }
  const child = spawn(HK_BIN, args, {
    env: { ...process.env, HITKEEP_NATS_LISTEN: "127.0.0.1:0", HITKEEP_LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const deadline = Date.now() + 120_000;
  while (!/setup\?code=hku_[0-9a-f]{64}/.test(stdout)) {
    if (child.exitCode !== null) throw new Error(`hitkeep serve exited: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`hitkeep serve printed no setup link: ${stdout}\n${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const runtime = JSON.parse(readFileSync(join(dir, "data", "hitkeep.runtime.json"), "utf8"));
  const base = `http://localhost:${runtime.http.split(":").pop()}`;
  const setup = stdout.match(/\/setup\?code=hku_[0-9a-f]{64}/)[0];
  return {
    base,
    /** The printed setup link (the dashboard's page). */
    setup: base + setup,
    /** The same link to the plain page, without the dashboard's script. */
    basicSetup: `${base}/basic${setup}`,
    log: () => stderr,
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
          assert.ok(!bytes.includes(Buffer.from(secret)), `${what} is in ${file} in clear`);
        }
      }
    },
    /** SIGTERM and a clean exit (the database checkpointed); the files stay. */
    async stop() {
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
    /** Searches for `secrets` while it runs and after a clean stop; always stops and removes. */
    async stopAndSearch(secrets) {
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

/** Debian's Chromium, headless. */
export async function launch() {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM });
}

/**
 * Waits for a sign-in to end on the dashboard (`/`), then opens the plain account page;
 * its text.
 */
export async function signedInAs(page, hitkeep) {
  await page.waitForURL(`${hitkeep.base}/`);
  await page.goto(`${hitkeep.base}/basic/account`);
  return page.locator("body").textContent();
}

/** Signs out from the plain account page. */
export async function signOut(page, hitkeep) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(`${hitkeep.base}/basic/login`);
}

/** Creates the first owner through the plain page of the printed setup link, signed in afterwards. */
export async function createOwner(page, hitkeep, screenshot) {
  await page.goto(hitkeep.basicSetup);
  if (screenshot) await page.screenshot({ path: join(SCREENSHOTS, screenshot) });
  await page.getByLabel("Name").fill("Olga Owner");
  await page.getByLabel("E-mail").fill(EMAIL);
  await page.getByLabel("Password (at least 10 characters)").fill(PASSWORD);
  await page.getByRole("button", { name: "Create the owner" }).click();
  assert.match(await signedInAs(page, hitkeep), new RegExp(`Signed in as ${EMAIL}`));
}
