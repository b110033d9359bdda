// Builds dist/hk.js from src/hk.ts: esbuild strips the types, bundles and minifies, then
// terser's second look (several passes, top-level names) takes off ~30 more gzipped bytes.
// `node build.mjs` writes the file; the tests import `bundle()` to check that the committed
// dist/hk.js is exactly what the source builds to.
import { build } from "esbuild";
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { minify } from "terser";

export const root = fileURLToPath(new URL(".", import.meta.url));
export const distFile = root + "dist/hk.js";
/** The size budget: gzip -9 of dist/hk.js, in bytes. */
export const BUDGET = 1200;

/** The built script, as bytes, without touching the disk. */
export async function bundle() {
  const esbuilt = await build({
    entryPoints: [root + "src/hk.ts"],
    bundle: true,
    minify: true,
    format: "iife",
    // Browsers from 2020 on: optional chaining, optional catch binding, keepalive fetch.
    target: ["es2020"],
    legalComments: "none",
    charset: "utf8",
    write: false,
    logLevel: "warning",
    // tsconfig.json's `strict` implies `alwaysStrict`, for which esbuild would prepend
    // "use strict": 13 bytes that change nothing in this one closure.
    tsconfigRaw: { compilerOptions: { alwaysStrict: false } },
  });
  const { code } = await minify(esbuilt.outputFiles[0].text, {
    ecma: 2020,
    toplevel: true,
    compress: { passes: 3, unsafe: true, unsafe_arrows: true, pure_getters: true },
    mangle: { toplevel: true },
  });
  return Buffer.from(code);
}

/** gzip -9 of `bytes`, as `gzip -9 < dist/hk.js | wc -c` counts it. */
export const gzippedSize = (bytes) => gzipSync(bytes, { level: 9 }).length;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const bytes = await bundle();
  const before = await readFile(distFile).catch(() => null);
  await writeFile(distFile, bytes);
  const unchanged = before && before.equals(bytes) ? " (unchanged)" : "";
  console.log(`dist/hk.js: ${bytes.length} bytes, ${gzippedSize(bytes)} gzipped (budget ${BUDGET})${unchanged}`);
}
