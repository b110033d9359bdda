// Small inline icons of the panels (no image requests): the neutral site icon, the
// external-link mark, and a source's favicon from the site's own favicon route.
import { useState } from "preact/hooks";
import { sitePath } from "../../../lib/api";

/** A globe: the icon of a source whose favicon is unknown. */
export function GlobeIcon() {
  return (
    <svg class="panel-icon" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">
      <circle cx="8" cy="8" r="6.25" fill="none" stroke="currentColor" stroke-width="1.3" />
      <path d="M1.9 8h12.2M8 1.75c-3.2 3.6-3.2 8.9 0 12.5M8 1.75c3.2 3.6 3.2 8.9 0 12.5" fill="none" stroke="currentColor" stroke-width="1.1" />
    </svg>
  );
}

export function ExternalIcon() {
  return (
    <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
      <path d="M9 2.5h4.5V7M13.3 2.7 7.5 8.5M6.5 3.5H3.5a1 1 0 0 0-1 1v8a1 1 0 0 0 1 1h8a1 1 0 0 0 1-1v-3" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linecap="round" stroke-linejoin="round" />
    </svg>
  );
}

/** Sources whose favicon failed once: asked no more in this page's life. */
const failed = new Set<string>();

/**
 * A source's favicon, served by the site's own route (never another origin); the globe when
 * it is unknown, switched off, or under a share link (an <img> cannot send the share header).
 */
export function Favicon({ domain, source, shared }: { domain: string; source: string; shared: boolean }) {
  const key = `${domain}\n${source}`;
  const [broken, setBroken] = useState(() => failed.has(key));
  if (shared || broken || source === "" || source === "Direct / None") return <GlobeIcon />;
  return (
    <img
      class="panel-icon"
      src={sitePath(domain, `/favicons/${encodeURIComponent(source)}`)}
      loading="lazy"
      alt=""
      width={16}
      height={16}
      onError={() => {
        failed.add(key);
        setBroken(true);
      }}
    />
  );
}
