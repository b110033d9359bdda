// The size budget, and the guard that dist/hk.js (embedded by the Rust server) is exactly
// what src/ builds to.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";

import { BUDGET, bundle, distFile, gzippedSize } from "../build.mjs";

test(`dist/hk.js fits its budget of ${BUDGET} bytes gzipped`, async () => {
  const bytes = await readFile(distFile);
  const gzipped = gzippedSize(bytes);
  console.log(`hk.js: ${bytes.length} bytes minified, ${gzipped} bytes gzip -9 (budget ${BUDGET}, ${BUDGET - gzipped} to spare)`);
  assert.ok(gzipped <= BUDGET, `hk.js is ${gzipped} bytes gzipped, over the budget of ${BUDGET}`);
});

test("dist/hk.js is what the source builds to (run `npm run build` after changing src/)", async () => {
  const [committed, built] = await Promise.all([readFile(distFile), bundle()]);
  assert.ok(committed.equals(built), "dist/hk.js is stale: run `npm run build` in tracker/ and commit the result");
});
