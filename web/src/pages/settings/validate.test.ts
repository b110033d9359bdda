import { describe, expect, it } from "vitest";
import {
  cleanDomain,
  domainProblem,
  invalidEntries,
  isEmail,
  isHostnamePattern,
  isIpRange,
  isPathPattern,
  isSlugName,
  linesOf,
  ruleFieldOf,
  wholeNumber,
} from "./validate";

describe("domains", () => {
  it("cleans what people paste", () => {
    expect(cleanDomain("  https://www.Example.com/blog?x=1 ")).toBe("www.example.com");
    expect(cleanDomain("example.com.")).toBe("example.com");
    expect(cleanDomain("shop.example.com:8443")).toBe("shop.example.com");
    expect(cleanDomain("example.com")).toBe("example.com");
  });

  it("names what the API would refuse", () => {
    expect(domainProblem("")).toBe("empty");
    expect(domainProblem("a".repeat(254))).toBe("too_long");
    expect(domainProblem("a..b")).toBe("label_length");
    expect(domainProblem(`${"a".repeat(64)}.com`)).toBe("label_length");
    expect(domainProblem("-a.com")).toBe("label_hyphen");
    expect(domainProblem("exämple.com")).toBe("characters");
    expect(domainProblem("my site.com")).toBe("characters");
    expect(domainProblem("xn--exmple-cua.com")).toBeNull();
    expect(domainProblem("localhost")).toBeNull();
  });
});

describe("lists", () => {
  it("takes one entry per line or comma, trimmed, without blanks or repeats", () => {
    expect(linesOf(" /admin/** \n\n/login, /admin/**\n")).toEqual(["/admin/**", "/login"]);
    expect(linesOf("")).toEqual([]);
  });

  it("checks IP addresses and ranges", () => {
    for (const good of ["203.0.113.7", "10.0.0.0/8", "0.0.0.0/0", "2001:db8::/32", "::1"]) {
      expect(isIpRange(good), good).toBe(true);
    }
    expect(isIpRange("1:2:3:4:5:6:7:8")).toBe(true);
    expect(isIpRange("::ffff:192.0.2.1")).toBe(true);
    for (const bad of ["256.1.1.1", "10.0.0.0/33", "2001:db8::/129", "1.2.3", "example.com", "1::2::3", "10.0.0.0/8/1", "1:2:3:4:5:6:7:8:9"]) {
      expect(isIpRange(bad), bad).toBe(false);
    }
  });

  it("checks path and host name patterns", () => {
    expect(isPathPattern("/blog/**")).toBe(true);
    expect(isPathPattern("blog")).toBe(false);
    expect(isPathPattern("/a b")).toBe(false);
    expect(isHostnamePattern("*.example.com")).toBe(true);
    expect(isHostnamePattern("https://example.com")).toBe(false);
    expect(invalidEntries(["/ok", "bad"], isPathPattern)).toEqual(["bad"]);
  });

  it("finds the field an invalid_rule answer names", () => {
    expect(ruleFieldOf('site a.com: excluded_paths "x": must start with /')).toBe("excluded_paths");
    expect(ruleFieldOf("site a.com: excluded_ip_ranges \"x\": bad")).toBe("excluded_ip_ranges");
    expect(ruleFieldOf("something else")).toBeNull();
  });
});

describe("names and numbers", () => {
  it("checks share link and token names", () => {
    expect(isSlugName("grafana-prod_1.0")).toBe(true);
    expect(isSlugName("with space")).toBe(false);
    expect(isSlugName("")).toBe(false);
    expect(isSlugName("x".repeat(65))).toBe(false);
  });

  it("checks e-mail addresses loosely", () => {
    expect(isEmail(" ada@example.com ")).toBe(true);
    expect(isEmail("ada@example")).toBe(false);
    expect(isEmail("ada example.com")).toBe(false);
  });

  it("reads whole numbers within bounds", () => {
    expect(wholeNumber(" 30 ", 1, 3650)).toBe(30);
    expect(wholeNumber("0", 1, 3650)).toBeNull();
    expect(wholeNumber("3651", 1, 3650)).toBeNull();
    expect(wholeNumber("1.5", 1, 10)).toBeNull();
    expect(wholeNumber("", 1, 10)).toBeNull();
  });
});
