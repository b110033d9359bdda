// hk.js, Hitkeep's tracking script. It reads its <script> tag, sends a pageview per page
// (following single-page apps), clicks on tagged elements, outbound links and downloads,
// and installs window.hitkeep for custom events. ARCHITECTURE.md says how it is built and
// why it looks the way it does; test/size.test.mjs holds it to its budget.

/** Options of `hitkeep(name, options)`. */
interface EventOptions {
  /** Custom properties: flat strings, numbers and booleans. */
  props?: Record<string, unknown>;
  /** Revenue of a goal: `{ amount: 12.5, currency: "EUR" }`. */
  revenue?: { amount: number | string; currency: string };
  /** `false` for events that happen without the visitor doing anything (no end of a bounce). */
  interactive?: boolean;
  /** Called once the event is handed to the browser, or skipped. */
  callback?: () => void;
}

type Hitkeep = ((name: string, options?: EventOptions) => void) & { q?: Iterable<unknown>[] };

declare global {
  interface Window {
    hitkeep?: Hitkeep;
  }
  interface Navigator {
    globalPrivacyControl?: boolean;
  }
}

const doc = document;
const loc = location;
const nav = navigator;

const script = doc.currentScript as HTMLScriptElement;
const settings = script.dataset;
const api = settings.api || new URL("/api/event", script.src) + "";
const domain = settings.domain || loc.hostname;
const hashMode = settings.hash != null;

/** A list attribute (`data-track="outbound downloads"`): does it name `item`? */
const list =
  (value = "") =>
  (item: string | undefined) =>
    value.split(/\W+/).includes(item!);
const track = list(settings.track);
const allow = list(settings.allow);
const isDownload = list(
  settings.downloadExtensions ||
    "pdf xlsx docx txt rtf csv exe key pps ppt pptx 7z pkg rar gz zip avi mov mp4 mpeg wmv midi mp3 wav wma dmg",
);

const send: Hitkeep = (name, options = {}) => {
  let optOut;
  try {
    optOut = localStorage.hitkeep_ignore == "true";
  } catch {
    // Sandboxed iframes and some privacy settings throw on any access to localStorage.
  }
  if (
    !(
      optOut ||
      // An empty hostname is a file: page.
      (!allow("local") && /^(localhost|127\.[\d.]+|\[::1\]|)$/.test(loc.hostname)) ||
      (!allow("automation") && nav.webdriver) ||
      (!allow("dnt") && nav.doNotTrack == "1") ||
      (!allow("gpc") && nav.globalPrivacyControl)
    )
  ) {
    // The page's URL keeps only the campaign parameters of its query string, and its
    // fragment only in hash mode.
    const url = new URL(loc.href);
    url.search = url.search
      .split(/[?&]/)
      .filter((pair) => /^(utm_\w+|ref|source|(g|d|fb|tw|tt|y)clid|msclkid|li_fat_id)=/i.test(pair))
      .join("&");
    if (!hashMode) url.hash = "";
    const body = JSON.stringify({
      n: name,
      u: url.href,
      d: domain,
      r: doc.referrer || null,
      p: options.props,
      $: options.revenue,
      i: options.interactive,
      h: hashMode || undefined,
    });
    // Both outlive the page: a beacon, or a keepalive fetch where beacons are missing or
    // refused (sendBeacon returns false over its quota). So the callback need not wait.
    nav.sendBeacon?.(api, body) || fetch(api, { method: "POST", body, keepalive: true });
  }
  options.callback?.();
};

// One pageview per distinct page, where a page is the path (plus the fragment in hash
// mode): a replaceState to the same path, or the popstate and hashchange of one move,
// count once.
let lastPage: string | undefined;
const page = () => {
  const path = loc.pathname + (hashMode ? loc.hash : "");
  if (path != lastPage) {
    lastPage = path;
    send("pageview");
  }
};
for (const method of ["pushState", "replaceState"] as const) {
  const original = history[method];
  history[method] = (...args: Parameters<History["pushState"]>) => {
    original.apply(history, args);
    page();
  };
}
addEventListener("popstate", page);
addEventListener("hashchange", page);

const click = (event: MouseEvent) => {
  // click has button 0; auxclick counts only for the middle button (1), which opens a tab.
  if (event.button > 1) return;
  const target = event.target as Element;
  const link = target.closest<HTMLAnchorElement>("a[href]");
  const tagged = target.closest("[data-hk-event]");
  let url = link?.href;
  const props: Record<string, string | undefined> = { url };
  let name: string | undefined;
  if (tagged) {
    for (const attribute of tagged.attributes) {
      const match = /^data-hk-(prop-(.+)|event$)/.exec(attribute.name);
      if (match) match[2] ? (props[match[2]] = attribute.value) : (name = attribute.value);
    }
  } else if (track("downloads") && isDownload(link?.pathname.split(".").pop())) {
    name = "File Download";
    props.url = url!.split(/[?#]/)[0];
  } else if (track("outbound") && link?.host && link.host != loc.host) {
    name = "Outbound Link: Click";
  }
  if (name) {
    // Navigates once, whichever comes first: the callback or the timeout.
    const follow = () => {
      if (url) loc.assign(url);
      url = "";
    };
    // A plain click that leaves this page in this tab: hold the navigation until the event is
    // on its way, at most 150 ms. New tabs, downloads and handled clicks go on by themselves.
    if (
      url &&
      !event.button &&
      !event.defaultPrevented &&
      !(event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) &&
      !link!.matches("[target],[download]")
    ) {
      event.preventDefault();
      setTimeout(follow, 150);
    } else url = "";
    send(name, { props, callback: follow });
  }
};
// On window, so that handlers on the document have had their say (defaultPrevented).
addEventListener("click", click);
addEventListener("auxclick", click);

const queued = window.hitkeep?.q || [];
window.hitkeep = send;
page();
for (const args of queued) send(...(args as [string]));

export {};
