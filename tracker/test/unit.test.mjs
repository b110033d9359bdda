// Unit tests of hk.js's logic, run on the built dist/hk.js inside the DOM shim (shim.mjs):
// URL cleaning, payloads, transports, the queue, single-page apps, clicks, and when nothing
// is sent. Chromium checks the same behaviour in browser.test.mjs.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { element, load } from "./shim.mjs";

const page = (url, extra = {}) => load({ url, ...extra });
const attrs = (more) => ({ domain: "example.com", ...more });

describe("payload", () => {
  test("a pageview is sent on load, as a beacon to the script's origin", () => {
    const hk = load();
    assert.equal(hk.sent.length, 1);
    assert.equal(hk.sent[0].via, "beacon");
    assert.equal(hk.sent[0].endpoint, "https://stats.example.com/api/event");
    assert.deepEqual(hk.sent[0].event, { n: "pageview", u: "https://example.com/", d: "example.com", r: null });
  });

  test("data-api replaces the endpoint; without it the script's origin is used, not its path", () => {
    assert.equal(
      load({ attrs: attrs({ api: "https://a.example.org/e" }) }).sent[0].endpoint,
      "https://a.example.org/e",
    );
    assert.equal(
      load({ src: "https://cdn.example.net:8443/js/v2/hk.js" }).sent[0].endpoint,
      "https://cdn.example.net:8443/api/event",
    );
  });

  test("data-domain is sent as given (several sites too); without it the page's hostname", () => {
    assert.equal(load({ attrs: { domain: "a.com,b.com" } }).events()[0].d, "a.com,b.com");
    assert.equal(load({ url: "https://www.site.org/x", attrs: {} }).events()[0].d, "www.site.org");
  });

  test("the query string keeps only campaign parameters, in order; the fragment is dropped", () => {
    const kept =
      "utm_source=news&UTM_Medium=email&utm_campaign=spring%20sale&utm_content=a&utm_term=b&ref=hn&source=x" +
      "&gclid=1&fbclid=2&msclkid=3&dclid=4&twclid=5&li_fat_id=6&ttclid=7&yclid=8";
    const url = `https://example.com/blog/post?session=abc&${kept}&token=s3cret&refx=1&utm=1&email=a%40b.c#top`;
    assert.equal(page(url).events()[0].u, `https://example.com/blog/post?${kept}`);
  });

  test("a query string with no campaign parameter goes entirely, question mark included", () => {
    assert.equal(page("https://example.com/search?q=private+words#results").events()[0].u, "https://example.com/search");
    assert.equal(page("https://example.com/a?").events()[0].u, "https://example.com/a");
  });

  test("hash mode keeps the fragment and says so with h", () => {
    const event = load({ url: "https://example.com/app?id=7#/settings?tab=2", attrs: attrs({ hash: "" }) }).events()[0];
    assert.equal(event.u, "https://example.com/app#/settings?tab=2");
    assert.equal(event.h, true);
    assert.equal(load().events()[0].h, undefined);
  });

  test("the referrer is sent as the browser gives it", () => {
    assert.equal(load({ referrer: "https://news.ycombinator.com/" }).events()[0].r, "https://news.ycombinator.com/");
  });

  test("custom events carry props, revenue and interactive with Plausible's short keys", () => {
    const hk = load();
    hk.hitkeep("Purchase", {
      props: { plan: "pro", seats: 3, annual: true },
      revenue: { amount: 49.5, currency: "EUR" },
      interactive: false,
    });
    hk.hitkeep("Signup");
    assert.deepEqual(hk.events().slice(1), [
      {
        n: "Purchase",
        u: "https://example.com/",
        d: "example.com",
        r: null,
        p: { plan: "pro", seats: 3, annual: true },
        $: { amount: 49.5, currency: "EUR" },
        i: false,
      },
      { n: "Signup", u: "https://example.com/", d: "example.com", r: null },
    ]);
  });

  test("the callback runs once the event is handed over, and also when it is not sent", () => {
    const calls = [];
    load().hitkeep("a", { callback: () => calls.push("sent") });
    load({ navigator: { doNotTrack: "1" } }).hitkeep("b", { callback: () => calls.push("skipped") });
    assert.deepEqual(calls, ["sent", "skipped"]);
  });
});

describe("transport", () => {
  test("without sendBeacon, a keepalive fetch sends the same body", () => {
    const hk = load({ beacon: false });
    assert.equal(hk.sent[0].via, "fetch");
    assert.equal(hk.sent[0].event.n, "pageview");
  });

  test("when sendBeacon refuses (returns false), a keepalive POST fetch sends instead", () => {
    const hk = load({ navigator: { sendBeacon: () => false } });
    assert.equal(hk.sent.length, 1);
    const [request] = hk.sent;
    assert.equal(request.via, "fetch");
    assert.equal(request.endpoint, "https://stats.example.com/api/event");
    assert.deepEqual({ ...request.init, body: undefined }, { method: "POST", keepalive: true, body: undefined });
    assert.equal(typeof request.init.body, "string", "a string body goes as text/plain, with no preflight");
  });
});

describe("queue", () => {
  test("calls made before the script loaded are replayed in order, after the pageview", () => {
    const order = [];
    const hk = load({
      queue: [
        ["First", { props: { step: 1 } }],
        ["Second", { callback: () => order.push("callback") }],
      ],
    });
    assert.deepEqual(
      hk.events().map((e) => [e.n, e.p]),
      [
        ["pageview", undefined],
        ["First", { step: 1 }],
        ["Second", undefined],
      ],
    );
    assert.deepEqual(order, ["callback"]);
    assert.equal(hk.window.hitkeep.q, undefined, "the stub is replaced by the tracker");
    hk.hitkeep("Third");
    assert.equal(hk.events().at(-1).n, "Third");
  });
});

describe("single-page apps", () => {
  const paths = (hk) => hk.events().map((e) => new URL(e.u).pathname + new URL(e.u).hash);

  test("a pageview per new path: pushState, replaceState and popstate, never twice", () => {
    const hk = page("https://example.com/");
    hk.push("/a");
    hk.push("/a?page=2"); // same path: not a new page
    hk.replace("/a?page=3");
    hk.replace("/b");
    hk.travel("/a", "popstate");
    hk.travel("/a#details", "popstate", "hashchange"); // a fragment is not a page...
    hk.push("/a");
    assert.deepEqual(paths(hk), ["/", "/a", "/b", "/a"]);
  });

  test("in hash mode the fragment is the page: one pageview per fragment move", () => {
    const hk = load({ url: "https://example.com/#/", attrs: attrs({ hash: "" }) });
    hk.travel("#/settings", "popstate", "hashchange");
    hk.travel("#/settings", "hashchange");
    hk.push("#/profile");
    assert.deepEqual(paths(hk), ["/#/", "/#/settings", "/#/profile"]);
  });
});

describe("clicks", () => {
  const link = (href, extra = {}) => element("a", { href, ...extra });
  const clicks = (hk) => hk.events().slice(1);

  test("downloads: default extensions, the URL without query string or fragment", () => {
    const hk = load({ attrs: attrs({ track: "downloads" }) });
    hk.click(link("/files/report.pdf?token=secret#page=2"));
    hk.click(link("https://cdn.example.net/setup.dmg"));
    hk.click(link("/files/archive.tar.gz", { target: "_blank" }));
    hk.click(link("/blog/pdf"));
    hk.click(link("/page.html"));
    hk.click(link("/report.PDF")); // matched as written, like Plausible
    assert.deepEqual(clicks(hk), [
      { ...hk.events()[0], n: "File Download", p: { url: "https://example.com/files/report.pdf" } },
      { ...hk.events()[0], n: "File Download", p: { url: "https://cdn.example.net/setup.dmg" } },
      { ...hk.events()[0], n: "File Download", p: { url: "https://example.com/files/archive.tar.gz" } },
    ]);
  });

  test("downloads: data-download-extensions replaces the list", () => {
    const hk = load({ attrs: attrs({ track: "downloads", "download-extensions": "epub, mobi" }) });
    for (const href of ["/a.epub", "/b.mobi", "/c.pdf"]) hk.click(link(href));
    assert.deepEqual(
      clicks(hk).map((e) => e.p.url),
      ["https://example.com/a.epub", "https://example.com/b.mobi"],
    );
  });

  test("outbound links: other hosts only, with the full URL; mailto: and same host are not", () => {
    const hk = load({ attrs: attrs({ track: "outbound downloads" }) });
    hk.click(link("https://other.org/page?x=1"));
    hk.click(link("https://example.com/about"));
    hk.click(link("/about"));
    hk.click(link("mailto:hi@example.com"));
    hk.click(link("https://sub.example.com/"));
    assert.deepEqual(
      clicks(hk).map((e) => [e.n, e.p.url]),
      [
        ["Outbound Link: Click", "https://other.org/page?x=1"],
        ["Outbound Link: Click", "https://sub.example.com/"],
      ],
    );
  });

  test("without data-track, links are not tracked", () => {
    const hk = load();
    hk.click(link("https://other.org/"));
    hk.click(link("/a.pdf"));
    assert.deepEqual(clicks(hk), []);
  });

  test("tagged elements: data-hk-event and data-hk-prop-*, found from a child, no opt-in needed", () => {
    const hk = load();
    const button = element("button", { "data-hk-event": "Signup", "data-hk-prop-plan": "pro", "data-hk-prop-billing-cycle": "yearly", class: "x" });
    hk.click(element("span", {}, button));
    const tagged = element("a", { href: "https://other.org/", "data-hk-event": "CTA", "data-hk-prop-place": "header" });
    hk.click(tagged);
    hk.click(element("div", { "data-hk-prop-orphan": "1" }));
    assert.deepEqual(
      clicks(hk).map((e) => [e.n, e.p]),
      [
        ["Signup", { plan: "pro", "billing-cycle": "yearly" }],
        ["CTA", { url: "https://other.org/", place: "header" }],
      ],
    );
  });

  test("a plain click on a tracked link is held, then navigates exactly once", () => {
    const hk = load({ attrs: attrs({ track: "outbound" }) });
    assert.equal(hk.click(link("https://other.org/")), true, "default prevented");
    assert.deepEqual(hk.navigations, ["https://other.org/"]);
    assert.deepEqual(
      hk.timers.map((t) => t.ms),
      [150],
    );
    hk.timers[0].fn();
    assert.deepEqual(hk.navigations, ["https://other.org/"], "the timeout does not navigate again");
  });

  test("a held click navigates on the timeout when sending throws before the callback", () => {
    const hk = load({ attrs: attrs({ track: "outbound" }) });
    hk.window.navigator.sendBeacon = () => {
      throw new TypeError("invalid URL"); // what sendBeacon does with a bad data-api
    };
    assert.equal(hk.click(link("https://other.org/")), true);
    assert.equal(hk.errors.length, 1);
    assert.deepEqual(hk.navigations, []);
    hk.timers[0].fn();
    assert.deepEqual(hk.navigations, ["https://other.org/"]);
  });

  test("new tabs, downloads and handled clicks are sent but never held", () => {
    const hk = load({ attrs: attrs({ track: "outbound" }) });
    const out = "https://other.org/";
    const cases = [
      [link(out), { ctrlKey: true }],
      [link(out), { metaKey: true }],
      [link(out), { shiftKey: true }],
      [link(out), { altKey: true }],
      [link(out), { type: "auxclick", button: 1 }],
      [link(out), { defaultPrevented: true }],
      [link(out, { target: "_blank" }), {}],
      [link(out, { target: "_self" }), {}],
      [link(out, { download: "" }), {}],
    ];
    for (const [target, init] of cases) assert.equal(hk.click(target, init), false, JSON.stringify(init));
    assert.equal(clicks(hk).length, cases.length);
    assert.deepEqual(hk.navigations, []);
    assert.deepEqual(hk.timers, []);
  });

  test("right clicks (auxclick, button 2) are not tracked", () => {
    const hk = load({ attrs: attrs({ track: "outbound" }) });
    hk.click(link("https://other.org/"), { type: "auxclick", button: 2 });
    assert.deepEqual(clicks(hk), []);
  });

  test("when nothing may be sent, a held click still navigates", () => {
    const hk = load({ attrs: attrs({ track: "outbound" }), navigator: { doNotTrack: "1" } });
    assert.equal(hk.click(link("https://other.org/")), true);
    assert.deepEqual(hk.navigations, ["https://other.org/"]);
    assert.deepEqual(hk.sent, []);
  });
});

describe("when nothing is sent", () => {
  const sends = (options) => {
    const hk = load(options);
    hk.hitkeep("custom");
    return hk.sent.length;
  };

  test("Do-Not-Track is honoured unless data-allow names dnt", () => {
    assert.equal(sends({ navigator: { doNotTrack: "1" } }), 0);
    assert.equal(sends({ navigator: { doNotTrack: "0" } }), 2);
    assert.equal(sends({ navigator: { doNotTrack: "unspecified" } }), 2);
    assert.equal(sends({ navigator: { doNotTrack: "1" }, attrs: attrs({ allow: "dnt" }) }), 2);
  });

  test("Global Privacy Control is honoured unless data-allow names gpc", () => {
    assert.equal(sends({ navigator: { globalPrivacyControl: true } }), 0);
    assert.equal(sends({ navigator: { globalPrivacyControl: false } }), 2);
    assert.equal(sends({ navigator: { globalPrivacyControl: true }, attrs: attrs({ allow: "gpc,dnt" }) }), 2);
  });

  test("automated browsers (navigator.webdriver) are skipped unless data-allow names automation", () => {
    assert.equal(sends({ navigator: { webdriver: true } }), 0);
    assert.equal(sends({ navigator: { webdriver: true }, attrs: attrs({ allow: "automation" }) }), 2);
  });

  test("local pages are skipped unless data-allow names local", () => {
    for (const url of ["http://localhost:3000/", "http://127.0.0.1/", "http://127.1.2.3:8080/x", "http://[::1]/", "file:///home/me/site/index.html"]) {
      assert.equal(sends({ url }), 0, url);
      assert.equal(sends({ url, attrs: attrs({ allow: "local" }) }), 2, url);
    }
    for (const url of ["http://localhost.example.com/", "http://127.example.com/", "http://10.0.0.1/"]) {
      assert.equal(sends({ url }), 2, url);
    }
  });

  test("the visitor's opt-out, localStorage.hitkeep_ignore = 'true', skips everything", () => {
    assert.equal(sends({ localStorage: { hitkeep_ignore: "true" } }), 0);
    assert.equal(sends({ localStorage: { hitkeep_ignore: "true" }, attrs: attrs({ allow: "local automation dnt gpc" }) }), 0);
    assert.equal(sends({ localStorage: { hitkeep_ignore: "false" } }), 2);
  });

  test("a localStorage that throws (sandboxed iframe) does not stop the tracker", () => {
    const throwing = () => {
      throw new Error("SecurityError: the document is sandboxed");
    };
    assert.equal(sends({ localStorage: throwing }), 2);
  });
});
