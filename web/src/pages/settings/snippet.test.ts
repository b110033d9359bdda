import { describe, expect, it } from "vitest";
import { embedSnippet, shareUrl, statsCurl, trackingSnippet } from "./snippet";

describe("trackingSnippet", () => {
  it("is the deferred script tag with the site's domain and this instance's hk.js", () => {
    expect(trackingSnippet("example.com", "https://stats.example.org")).toBe(
      '<script defer data-domain="example.com" src="https://stats.example.org/hk.js"></script>',
    );
  });

  it("escapes what would break the attribute", () => {
    expect(trackingSnippet('a"b', "http://x")).toBe('<script defer data-domain="a&quot;b" src="http://x/hk.js"></script>');
  });
});

describe("share links", () => {
  it("joins the origin and the path", () => {
    expect(shareUrl("https://s.example", "/share/hkl_abc")).toBe("https://s.example/share/hkl_abc");
    expect(shareUrl("https://s.example", "share/hkl_abc")).toBe("https://s.example/share/hkl_abc");
  });

  it("embeds as an iframe with a title", () => {
    const html = embedSnippet("https://s.example/share/hkl_abc", "example.com");
    expect(html).toContain('<iframe src="https://s.example/share/hkl_abc"');
    expect(html).toContain('title="example.com analytics"');
    expect(html.endsWith("</iframe>")).toBe(true);
  });
});

describe("statsCurl", () => {
  it("posts a Stats API v2 query with the bearer token", () => {
    const text = statsCurl("https://s.example", "hkt_secret", "example.com");
    expect(text.split("\n")[0]).toBe("curl https://s.example/api/v2/query \\");
    expect(text).toContain('-H "Authorization: Bearer hkt_secret"');
    expect(text).toContain(`-d '{"site_id":"example.com","metrics":["visitors","pageviews"],"date_range":"30d"}'`);
  });
});
