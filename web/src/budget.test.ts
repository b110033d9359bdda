// The JavaScript budget of web/README.md: what a browser downloads before it draws the
// first page, and before it draws a site's dashboard (the page people open most), at most
// 100 KB gzipped each. Measured on the committed build (dist/, which the test command
// rebuilds and compares with the sources), following Vite's manifest: a page's chunk and
// every chunk it imports statically; lazy chunks (the map, the details dialog, other
// languages) load later and are not counted.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";

const DIST = join(__dirname, "..", "dist");
const BUDGET = 100 * 1024;

interface Chunk {
  file: string;
  imports?: string[];
  css?: string[];
  isEntry?: boolean;
}

const manifest: Record<string, Chunk> = JSON.parse(readFileSync(join(DIST, ".vite", "manifest.json"), "utf8"));

function closure(keys: string[], seen = new Set<string>()): Set<string> {
  for (const key of keys) {
    if (seen.has(key)) continue;
    const chunk = manifest[key];
    if (!chunk) throw new Error(`no chunk ${key} in the manifest`);
    seen.add(key);
    closure(chunk.imports ?? [], seen);
  }
  return seen;
}

function gzippedBytes(keys: Set<string>): number {
  let total = 0;
  for (const key of keys) total += gzipSync(readFileSync(join(DIST, manifest[key].file)), { level: 9 }).length;
  return total;
}

describe("the JavaScript budget", () => {
  const entry = Object.keys(manifest).find((key) => manifest[key].isEntry);
  it("has one entry, the page the binary serves", () => {
    expect(entry).toBe("index.html");
    expect(readFileSync(join(DIST, "index.html"), "utf8")).toContain(`/static/${manifest[entry as string].file.replace(/^static\//, "")}`);
  });

  it("keeps the first page's JavaScript under 100 KB gzipped", () => {
    const bytes = gzippedBytes(closure([entry as string]));
    console.info(`initial JavaScript: ${(bytes / 1024).toFixed(1)} KB gzipped`);
    expect(bytes).toBeLessThanOrEqual(BUDGET);
  });

  it("keeps a site dashboard's JavaScript, first page included, under 100 KB gzipped", () => {
    const page = "src/pages/dashboard/dashboard.tsx";
    const bytes = gzippedBytes(closure([entry as string, page]));
    console.info(`site dashboard JavaScript: ${(bytes / 1024).toFixed(1)} KB gzipped`);
    expect(bytes).toBeLessThanOrEqual(BUDGET);
  });

  it("loads the map and the other languages lazily", () => {
    const eager = closure([entry as string, "src/pages/dashboard/dashboard.tsx"]);
    for (const key of eager) {
      expect(key, `${key} is loaded before it is needed`).not.toMatch(/world-atlas|d3-geo|topojson|locales\/(de|es|fr|it)\//);
    }
  });
});
