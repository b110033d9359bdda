// The text people copy: the tracking snippet, a share link's <iframe>, a curl call of the
// Stats API. Built from the page's own origin, which is where hk.js and the API are served.

/** The tracking script tag of `domain`, served by this instance at `origin`. */
export function trackingSnippet(domain: string, origin: string): string {
  return `<script defer data-domain="${escapeAttribute(domain)}" src="${escapeAttribute(origin)}/hk.js"></script>`;
}

/** A share link's whole address. */
export function shareUrl(origin: string, path: string): string {
  return origin + (path.startsWith("/") ? path : `/${path}`);
}

/** An embed share link as an <iframe> for another site's page. */
export function embedSnippet(url: string, domain: string): string {
  return (
    `<iframe src="${escapeAttribute(url)}" title="${escapeAttribute(`${domain} analytics`)}" ` +
    `style="width: 1px; min-width: 100%; height: 1600px; border: 0;" loading="lazy"></iframe>`
  );
}

/** A curl call of the Stats API with `token`: the site's visitors and pageviews over 30 days. */
export function statsCurl(origin: string, token: string, domain: string): string {
  const body = JSON.stringify({ site_id: domain, metrics: ["visitors", "pageviews"], date_range: "30d" });
  return [
    `curl ${origin}/api/v2/query \\`,
    `  -H "Authorization: Bearer ${token}" \\`,
    `  -H "Content-Type: application/json" \\`,
    `  -d '${body.replace(/'/g, "'\\''")}'`,
  ].join("\n");
}

function escapeAttribute(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
