// Builds the dashboard into dist/, which the hitkeep binary embeds (rust-embed) and serves:
// index.html for the app's pages, dist/static/* (content-hashed) as immutable files.
import { defineConfig } from "vitest/config";

export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    assetsDir: "static",
    emptyOutDir: true,
    target: "es2022",
    // Every current browser preloads modules; the polyfill would be dead weight.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    // dist/.vite/manifest.json: which chunks each page loads (src/budget.test.ts adds them up).
    manifest: true,
  },
  server: {
    // `npm run dev` against a running `hitkeep serve` (HK_API, default the default port):
    // the API, the demo and single sign-on links and the plain /basic/ pages come from it.
    proxy: Object.fromEntries(
      ["/api", "/login/demo", "/login/oidc", "/basic", "/assets", "/hk.js"].map((path) => [path, process.env.HK_API ?? "http://127.0.0.1:8080"]),
    ),
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
