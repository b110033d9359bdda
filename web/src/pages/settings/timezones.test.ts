import { describe, expect, it } from "vitest";
import { timeZones, zoneLabel, zoneOffset } from "./timezones";

const winter = new Date("2026-01-15T12:00:00Z");
const summer = new Date("2026-07-15T12:00:00Z");

describe("time zones", () => {
  it("lists UTC first, and keeps a zone the browser does not know", () => {
    const zones = timeZones("Mars/Olympus_Mons");
    expect(zones[0]).toBe("UTC");
    expect(zones).toContain("Europe/Berlin");
    expect(zones).toContain("Mars/Olympus_Mons");
    expect(new Set(zones).size).toBe(zones.length);
  });

  it("writes offsets with their sign, minutes and daylight saving time", () => {
    expect(zoneOffset("Asia/Kolkata", winter)).toBe("UTC+05:30");
    expect(zoneOffset("Europe/Berlin", winter)).toBe("UTC+01:00");
    expect(zoneOffset("Europe/Berlin", summer)).toBe("UTC+02:00");
    expect(zoneOffset("America/Sao_Paulo", winter)).toBe("UTC−03:00");
    expect(zoneOffset("UTC", winter)).toBe("UTC");
    expect(zoneOffset("Not/AZone", winter)).toBe("");
  });

  it("labels zones readably", () => {
    expect(zoneLabel("America/New_York", winter)).toBe("America/New York (UTC−05:00)");
    expect(zoneLabel("UTC", winter)).toBe("UTC");
  });
});
