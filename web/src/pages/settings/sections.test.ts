import { describe, expect, it } from "vitest";
import { isInstanceAdmin, sectionOf, visibleSections } from "./sections";

describe("visibleSections", () => {
  it("shows everything to a site owner who administers the instance", () => {
    expect(visibleSections("own", "owner")).toEqual(["general", "privacy", "goals", "funnels", "members", "shares", "reports", "tokens", "plugins", "cluster"]);
    expect(visibleSections("own", "admin")).toContain("plugins");
    expect(visibleSections("own", "admin")).toContain("cluster");
  });

  it("hides members from managers, plugins and the cluster from instance members", () => {
    expect(visibleSections("manage", "member")).toEqual(["general", "privacy", "goals", "funnels", "shares", "reports", "tokens"]);
    expect(visibleSections("own", "member")).toEqual(["general", "privacy", "goals", "funnels", "members", "shares", "reports", "tokens"]);
  });

  it("gives readers the snippet and their tokens only", () => {
    expect(visibleSections("read", "member")).toEqual(["general", "tokens"]);
    expect(visibleSections("write", "member")).toEqual(["general", "tokens"]);
  });

  it("shows nothing for view access or none", () => {
    expect(visibleSections("view", "member")).toEqual([]);
    expect(visibleSections(undefined, "member")).toEqual([]);
  });
});

describe("sectionOf", () => {
  it("answers only visible sections", () => {
    expect(sectionOf("goals", ["general", "goals"])).toBe("goals");
    expect(sectionOf("members", ["general", "goals"])).toBeNull();
    expect(sectionOf("nonsense", ["general"])).toBeNull();
  });
});

describe("isInstanceAdmin", () => {
  it("is owners and admins", () => {
    expect(isInstanceAdmin("owner")).toBe(true);
    expect(isInstanceAdmin("admin")).toBe(true);
    expect(isInstanceAdmin("member")).toBe(false);
    expect(isInstanceAdmin(undefined)).toBe(false);
  });
});
