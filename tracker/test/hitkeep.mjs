// A real `hitkeep serve` for the end-to-end tests (server.test.mjs, plausible-compat.test.mjs):
// started on free ports in a temporary data directory, read back with `hitkeep events`, and
// stopped with SIGTERM. The binary is $HK_BIN (not HITKEEP_*: serve reads every HITKEEP_* variable as configuration and refuses unknown ones), or the debug build in the repository's
// cargo target directory; this module builds nothing.
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The `hitkeep` binary the tests run. */
export const HITKEEP_BIN =
  process.env.HK_BIN ||
  join(process.env.CARGO_TARGET_DIR || join(homedir(), ".cache", "hitkeep-target"), "debug", "hitkeep");

/**
 * A user agent the collector counts. Playwright's headless Chromium says `HeadlessChrome`,
 * which the collector drops as a bot, as it should.
 */
export const DESKTOP_CHROME =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/**
 * Parses one line of `hitkeep events --json`. Visitor and session ids are 64-bit and can
 * exceed 2^53, so they are read as strings (opaque ids) before JSON.parse could round them.
 */
export function parseEventLine(line) {
  return JSON.parse(line.replace(/"(visitor_id|session_id|visitor|visitor_prev)":(\d+)/g, '"$1":"$2"'));
}

/**
 * Starts `hitkeep serve` with `sites` registered, and resolves once it has written its
 * runtime file (a debug build takes some seconds: it compiles the WASM collector).
 *
 * @param {{ sites: string[], startTimeout?: number }} options
 */
export async function startHitkeep({ sites, startTimeout = 60_000 }) {
  if (!existsSync(HITKEEP_BIN)) {
    throw new Error(
      `no hitkeep binary at ${HITKEEP_BIN}: run \`cargo build -p hitkeep\` first, or set HK_BIN to the binary`,
    );
  }
  const dataDir = mkdtempSync(join(tmpdir(), "hitkeep-tracker-e2e-"));
  for (const site of sites) await run(HITKEEP_BIN, ["site", "--data-dir", dataDir, "add", site]);

  const child = spawn(HITKEEP_BIN, ["serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0"], {
    env: { ...process.env, HITKEEP_NATS_LISTEN: "127.0.0.1:0", HITKEEP_LOG_FORMAT: "text", NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const keep = (chunk) => {
    log += chunk;
    if (log.length > 200_000) log = log.slice(-100_000);
  };
  child.stdout.setEncoding("utf8").on("data", keep);
  child.stderr.setEncoding("utf8").on("data", keep);
  /** @type {Promise<{ code: number | null, signal: string | null }>} */
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  let exit = null;
  exited.then((result) => {
    exit = result;
  });
  // If this test process dies without running its `after` hooks, take the server along.
  const killOnExit = () => child.kill("SIGKILL");
  process.on("exit", killOnExit);

  const cleanUp = () => {
    process.off("exit", killOnExit);
    rmSync(dataDir, { recursive: true, force: true });
  };

  // Up when the runtime file names this process.
  const runtimeFile = join(dataDir, "hitkeep.runtime.json");
  const deadline = Date.now() + startTimeout;
  let runtime;
  for (;;) {
    if (exit) {
      cleanUp();
      throw new Error(`hitkeep serve exited during startup (${JSON.stringify(exit)}):\n${log}`);
    }
    try {
      const parsed = JSON.parse(readFileSync(runtimeFile, "utf8"));
      if (parsed.pid === child.pid && parsed.http) {
        runtime = parsed;
        break;
      }
    } catch {
      // Not written yet, or half written.
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await exited;
      cleanUp();
      throw new Error(`hitkeep serve did not start within ${startTimeout} ms:\n${log}`);
    }
    await sleep(100);
  }

  const addr = runtime.http;
  const port = Number(addr.slice(addr.lastIndexOf(":") + 1));

  /** The site's stored events, oldest first (`hitkeep events` lists newest first). */
  async function events(site, limit = 200) {
    const { stdout } = await run(HITKEEP_BIN, [
      "events",
      "--data-dir",
      dataDir,
      "--site",
      site,
      "--json",
      "--limit",
      String(limit),
    ]);
    return stdout
      .split("\n")
      .filter((line) => line.trim())
      .map(parseEventLine)
      .reverse();
  }

  return {
    addr,
    port,
    dataDir,
    runtime,
    /** What the server printed so far, for failure messages. */
    log: () => log,
    events,
    /**
     * Polls until `site` has at least `count` stored events matching `filter` (which gets
     * `{ visitor_id, session_id, hit }`), and returns all of them, oldest first; fails
     * after `timeout` ms, with what was stored and `describe()`'s text.
     */
    async waitForStored(site, filter, { count = 1, timeout = 10_000, describe = () => "" } = {}) {
      const deadline = Date.now() + timeout;
      for (;;) {
        const all = await events(site);
        const found = all.filter(filter);
        if (found.length >= count) return found;
        if (Date.now() > deadline) {
          throw new Error(
            `expected ${count} matching stored events for ${site}, found ${found.length} within ${timeout} ms\n` +
              `stored (newest 200): ${JSON.stringify(all.map((e) => e.hit))}\n${describe()}`,
          );
        }
        await sleep(150);
      }
    },
    /** SIGTERM, and waits for the exit (SIGKILL after `timeout`); resolves to the exit. */
    async stop(timeout = 15_000) {
      if (!exit) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), timeout);
      const result = await exited;
      clearTimeout(timer);
      cleanUp();
      return result;
    },
  };
}
