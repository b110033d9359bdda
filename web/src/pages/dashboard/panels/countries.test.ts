import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { alpha2OfNumeric, countryName, flagEmoji } from "./countries";

describe("ISO numeric codes to alpha-2", () => {
  it("knows the countries the map draws", () => {
    expect(alpha2OfNumeric("276")).toBe("DE");
    expect(alpha2OfNumeric("840")).toBe("US");
    expect(alpha2OfNumeric("250")).toBe("FR");
    expect(alpha2OfNumeric("076")).toBe("BR");
    expect(alpha2OfNumeric("036")).toBe("AU");
    expect(alpha2OfNumeric("392")).toBe("JP");
    expect(alpha2OfNumeric("004")).toBe("AF");
    expect(alpha2OfNumeric(4)).toBe("AF");
    expect(alpha2OfNumeric("826")).toBe("GB");
  });
  it("answers null for what is no country", () => {
    expect(alpha2OfNumeric("999")).toBeNull();
    expect(alpha2OfNumeric(undefined)).toBeNull();
    expect(alpha2OfNumeric("")).toBeNull();
  });
  it("names every feature of world-atlas's 1:110m map that has an id", () => {
    const world = JSON.parse(readFileSync(require.resolve("world-atlas/countries-110m.json"), "utf8"));
    const ids: (string | undefined)[] = world.objects.countries.geometries.map((shape: { id?: string }) => shape.id);
    const known = ids.filter((id) => id !== undefined);
    expect(known.length).toBeGreaterThan(170);
    for (const id of known) expect(alpha2OfNumeric(id), id).toMatch(/^[A-Z]{2}$/);
  });
});

describe("flags and names", () => {
  it("makes a flag of two regional indicators", () => {
    expect(flagEmoji("DE")).toBe("🇩🇪");
    expect(flagEmoji("us")).toBe("🇺🇸");
    expect(flagEmoji("DE").codePointAt(0)).toBe(0x1f1e9);
    expect(flagEmoji("")).toBe("");
    expect(flagEmoji("(not set)")).toBe("");
    expect(flagEmoji(null)).toBe("");
  });
  it("names countries in the reader's language", () => {
    expect(countryName("JP", "en")).toBe("Japan");
    expect(countryName("JP", "fr")).toBe("Japon");
    expect(countryName("ES", "es")).toBe("España");
    expect(countryName("XYZ", "en")).toBe("XYZ");
  });
});
