// A tiny DOM, just what hk.js touches, for unit tests that run the built dist/hk.js in a
// node:vm context: fast, and they exercise the very bytes a browser gets. The browser
// tests (browser.test.mjs) check the same behaviour in Chromium.
import { readFileSync } from "node:fs";
import vm from "node:vm";

const distCode = () => readFileSync(new URL("../dist/hk.js", import.meta.url), "utf8");

/** A fake element: attributes, a parent, and the few selectors hk.js uses. */
export function element(tag, attributes = {}, parent = null) {
  const attrs = Object.entries(attributes).map(([name, value]) => ({ name, value: String(value) }));
  const has = (name) => attrs.some((a) => a.name === name);
  const get = (name) => attrs.find((a) => a.name === name)?.value;
  const self = {
    tagName: tag.toUpperCase(),
    parent,
    attributes: attrs,
    getAttribute: (name) => get(name) ?? null,
    hasAttribute: has,
    // `a[href]`, `[attr]`, and comma-separated lists of them.
    matches: (selectors) =>
      selectors.split(",").some((selector) => {
        const [, selTag, selAttr] = /^(\w*)\[([\w-]+)\]$/.exec(selector.trim());
        return (!selTag || selTag.toUpperCase() === self.tagName) && has(selAttr);
      }),
    closest(selectors) {
      for (let node = self; node; node = node.parent) if (node.matches(selectors)) return node;
      return null;
    },
  };
  if (tag === "a" && has("href")) {
    // The anchor's URL parts, resolved as a browser would (against the page, set by load()).
    for (const key of ["href", "host", "pathname", "target"]) {
      Object.defineProperty(self, key, {
        get: () => (key === "target" ? get("target") ?? "" : new URL(get("href"), self.base)[key]),
      });
    }
  }
  return self;
}

/**
 * Runs dist/hk.js on a fake page.
 *
 * @param {object} options
 * @param {string} [options.url] the page's URL
 * @param {Record<string,string>} [options.attrs] the script tag's attributes (without `data-`)
 * @param {string} [options.src] the script's URL
 * @param {string} [options.referrer]
 * @param {object} [options.navigator] extra navigator fields (doNotTrack, webdriver, ...)
 * @param {object|Function} [options.localStorage] storage contents, or a getter that throws
 * @param {Array<IArguments|unknown[]>} [options.queue] calls made before the script loaded
 * @param {boolean} [options.beacon] whether sendBeacon exists and accepts (default true)
 */
export function load({
  url = "https://example.com/",
  attrs = { domain: "example.com" },
  src = "https://stats.example.com/hk.js",
  referrer = "",
  navigator = {},
  localStorage = {},
  queue,
  beacon = true,
} = {}) {
  let current = new URL(url);
  const sent = [];
  const navigations = [];
  const listeners = {};
  const timers = [];
  const dataset = {};
  for (const [name, value] of Object.entries(attrs)) {
    dataset[name.replace(/-(\w)/g, (_, c) => c.toUpperCase())] = value;
  }
  const record = (via, endpoint, body, init) => sent.push({ via, endpoint, body, init, event: JSON.parse(body) });
  const nav = {
    webdriver: false,
    doNotTrack: null,
    ...(beacon && { sendBeacon: (endpoint, body) => (record("beacon", endpoint, body), true) }),
    ...navigator,
  };
  const location = {
    get href() {
      return current.href;
    },
    get host() {
      return current.host;
    },
    get hostname() {
      return current.hostname;
    },
    get pathname() {
      return current.pathname;
    },
    get hash() {
      return current.hash;
    },
    assign: (to) => navigations.push(String(to)),
    toString: () => current.href,
  };
  const history = {};
  for (const method of ["pushState", "replaceState"]) {
    history[method] = (_state, _title, to) => {
      if (to != null) current = new URL(to, current);
    };
  }
  const window = {
    URL,
    location,
    history,
    navigator: nav,
    document: { currentScript: { src, dataset }, referrer },
    addEventListener: (type, listener) => (listeners[type] ||= []).push(listener),
    setTimeout: (fn, ms) => timers.push({ fn, ms }),
    fetch: (endpoint, init) => {
      record("fetch", endpoint, init.body, init);
      return Promise.resolve({ status: 202 });
    },
  };
  Object.defineProperty(window, "localStorage", {
    get: typeof localStorage === "function" ? localStorage : () => localStorage,
  });
  if (queue) {
    window.hitkeep = function () {
      (window.hitkeep.q = window.hitkeep.q || []).push(arguments);
    };
    for (const args of queue) window.hitkeep(...args);
  }
  window.window = window;
  vm.runInNewContext(distCode(), window);

  const errors = [];
  // As in a browser, an exception in one listener is reported and the event goes on.
  const fire = (type, event = {}) => {
    for (const listener of listeners[type] || []) {
      try {
        listener(event);
      } catch (error) {
        errors.push(error);
      }
    }
  };
  return {
    window,
    /** Every request hk.js made: `{ via: "beacon" | "fetch", endpoint, body, init, event }`. */
    sent,
    /** The decoded events, in order. */
    events: () => sent.map((request) => request.event),
    /** URLs hk.js navigated to with location.assign. */
    navigations,
    timers,
    /** Exceptions thrown by hk.js's event listeners. */
    errors,
    hitkeep: (...args) => window.hitkeep(...args),
    /** Moves the page like a router would, with history.pushState/replaceState. */
    push: (to) => window.history.pushState({}, "", to),
    replace: (to) => window.history.replaceState({}, "", to),
    /** Moves the page like the back button or a fragment link would: then fires `type`. */
    travel: (to, ...types) => {
      current = new URL(to, current);
      for (const type of types) fire(type);
    },
    /**
     * Clicks `target` (a fake element); returns whether the default action was prevented.
     * `init` sets the event's type, button and modifier keys.
     */
    click(target, init = {}) {
      for (let node = target; node; node = node.parent) node.base = current.href;
      let prevented = false;
      const event = {
        type: "click",
        button: 0,
        defaultPrevented: false,
        ...init,
        target,
        preventDefault: () => (prevented = true),
      };
      fire(event.type, event);
      return prevented;
    },
  };
}
