// Every language has every string English has, no more, and keeps its placeholders.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LANGUAGES } from "./lib/i18n";

const root = join(__dirname, "locales");
const read = (lang: string, file: string): Record<string, string> => JSON.parse(readFileSync(join(root, lang, file), "utf8"));
const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort();

describe("translations", () => {
  const areas = readdirSync(join(root, "en")).filter((file) => file.endsWith(".json"));
  for (const lang of LANGUAGES.filter((l) => l !== "en")) {
    it(`${lang} has exactly English's areas`, () => {
      expect(readdirSync(join(root, lang)).filter((file) => file.endsWith(".json")).sort()).toEqual([...areas].sort());
    });
    for (const area of areas) {
      it(`${lang}/${area} has exactly English's keys and placeholders`, () => {
        const english = read("en", area);
        const other = read(lang, area);
        expect(Object.keys(other).sort()).toEqual(Object.keys(english).sort());
        for (const [key, text] of Object.entries(english)) {
          expect(placeholders(other[key]), `${lang}/${area}: ${key}`).toEqual(placeholders(text));
          expect(other[key].trim(), `${lang}/${area}: ${key} is empty`).not.toBe("");
        }
      });
    }
  }
});
