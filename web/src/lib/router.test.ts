import { describe, expect, it } from "vitest";
import { matchPath } from "./router";

describe("matchPath", () => {
  it("takes named segments and decodes them", () => {
    expect(matchPath("/sites/:domain", "/sites/example.com")).toEqual({ domain: "example.com" });
    expect(matchPath("/sites/:domain", "/sites/a%20b")).toEqual({ domain: "a b" });
  });
  it("allows optional trailing segments", () => {
    expect(matchPath("/sites/:domain/settings/:section?", "/sites/x.org/settings")).toEqual({ domain: "x.org" });
    expect(matchPath("/sites/:domain/settings/:section?", "/sites/x.org/settings/goals")).toEqual({
      domain: "x.org",
      section: "goals",
    });
  });
  it("refuses other paths", () => {
    expect(matchPath("/sites/:domain", "/sites")).toBeNull();
    expect(matchPath("/sites/:domain", "/sites/a/b")).toBeNull();
    expect(matchPath("/account", "/sites")).toBeNull();
    expect(matchPath("/sites/:domain", "/sites/%E0%A4%A")).toBeNull();
  });
  it("matches the root", () => {
    expect(matchPath("/", "/")).toEqual({});
  });
});
