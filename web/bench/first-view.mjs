// Benchmark: how long a site's dashboard takes to be complete in a real browser, from the
// navigation to the last answer of its queries (top stats with comparison, graph, every
// visible panel), on a data directory loaded with `hitkeep demo` (the issue's figure: 10 M
// hits, within 1 second on localhost). Reports the cold run (first visit: static files and
// the answers' caches empty) and the median and worst of the warm ones.
//
//   hitkeep demo --hits 10000000 --days 90 --seed 1 --data-dir /tmp/hk10m
//   node web/bench/first-view.mjs --bin ~/.cache/hitkeep-target/release/hitkeep --data /tmp/hk10m \
//     [--runs 15] [--site demo.hitkeep.dev] [--query "compare=previous_period"] [--each]
//
// --each also prints, for the last warm navigation, every API request's start and end after
// the navigation (ms) and its body, slowest last: where the time goes.
//
// "Complete" is read from the page's own Resource Timing: the latest `responseEnd` of the
// dashboard's API requests after the navigation (the live stream and the sources' icons
// excluded), once its queries have begun and the page has been quiet for a second, at the
// next frame.
import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const { values } = parseArgs({
  options: {
    bin: { type: "string" },
    data: { type: "string" },
    runs: { type: "string", default: "15" },
    site: { type: "string", default: "demo.hitkeep.dev" },
    query: { type: "string", default: "" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
    each: { type: "boolean", default: false },
  },
});
if (!values.bin || !values.data) {
  console.error("usage: first-view.mjs --bin HITKEEP --data DATA_DIR [--runs N] [--site DOMAIN] [--query QUERY] [--each]");
  process.exit(2);
}

const server = spawn(values.bin, ["serve", "--demo", "--data-dir", values.data, "--listen", "127.0.0.1:0"], {
  env: { ...process.env, HITKEEP_NATS_LISTEN: "127.0.0.1:0", HITKEEP_LOG_LEVEL: "warn" },
  stdio: ["ignore", "pipe", "inherit"],
});
const link = await new Promise((resolve, reject) => {
  let out = "";
  server.stdout.on("data", (chunk) => {
    out += chunk;
    const found = out.match(/http:\/\/\S+\/login\/demo\?code=hkd_[0-9a-f]+/);
    if (found) resolve(found[0]);
  });
  server.once("exit", (code) => reject(new Error(`hitkeep serve exited (${code})`)));
});

const browser = await chromium.launch({ executablePath: values.chromium });
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const page = await context.newPage();
await page.goto(link);
await page.waitForURL((url) => url.pathname === "/");
const target = new URL(`/sites/${encodeURIComponent(values.site)}${values.query ? `?${values.query}` : ""}`, link).href;

let inFlight = 0;
let lastChange = Date.now();
// The dashboard's data: the API less the live stream and the sources' icons (lazy images,
// answered from the server's disk cache once fetched).
const isData = (url) => url.includes("/api/") && !url.includes("/realtime/stream") && !url.includes("/favicons/");
const counted = (request) => isData(request.url());
let statsSeen = 0;
// With --each: every data request of the current navigation, what it asked and when.
let navigationStart = 0;
let each = [];
const describe = (request) => {
  const body = request.postDataJSON?.() ?? null;
  const path = new URL(request.url()).pathname;
  if (!body) return path;
  const parts = [body.dimensions?.join("+") || "totals", body.metrics?.join(","), body.comparisons ? "compared" : ""];
  return `${path.split("/").pop()} ${parts.filter(Boolean).join("  ")}`;
};
page.on("request", (request) => {
  if (counted(request)) (inFlight += 1), (lastChange = Date.now());
});
for (const done of ["requestfinished", "requestfailed"]) {
  page.on(done, (request) => {
    if (!counted(request)) return;
    inFlight -= 1;
    lastChange = Date.now();
    if (request.url().endsWith("/stats")) statsSeen += 1;
    if (values.each) {
      const timing = request.timing();
      each.push({ what: describe(request), start: timing.startTime - navigationStart, end: timing.startTime + timing.responseEnd - navigationStart });
    }
  });
}

async function once() {
  inFlight = 0;
  statsSeen = 0;
  each = [];
  navigationStart = Date.now();
  await page.goto(target);
  while (statsSeen === 0 || inFlight > 0 || Date.now() - lastChange < 1000) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return page.evaluate(
    () =>
      new Promise((resolve) =>
        requestAnimationFrame(() => {
          const api = performance
            .getEntriesByType("resource")
            .filter((entry) => entry.name.includes("/api/") && !entry.name.includes("/realtime/stream") && !entry.name.includes("/favicons/"));
          resolve({ complete: Math.max(...api.map((entry) => entry.responseEnd)), requests: api.length });
        }),
      ),
  ).then((result) => ({ ...result, each }));
}

const cold = await once();
const warm = [];
for (let run = 0; run < Number(values.runs); run += 1) warm.push(await once());
const times = warm.map((result) => result.complete).sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
console.log(
  JSON.stringify({
    site: values.site,
    query: values.query,
    requests: cold.requests,
    cold_ms: Math.round(cold.complete),
    warm_median_ms: Math.round(median),
    warm_min_ms: Math.round(times[0]),
    warm_max_ms: Math.round(times[times.length - 1]),
    runs: times.length,
  }),
);
if (values.each) {
  for (const request of warm[warm.length - 1].each.sort((a, b) => a.end - b.end)) {
    console.log(`${String(Math.round(request.start)).padStart(5)} -> ${String(Math.round(request.end)).padStart(5)} ms  ${request.what}`);
  }
}
await browser.close();
server.kill("SIGTERM");
