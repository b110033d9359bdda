import { describe, expect, it } from "vitest";
import { exportUrl, retentionChoice, retentionChoices, retentionDays, validRange } from "./export";

describe("exportUrl", () => {
  it("asks for everything when no day is given", () => {
    expect(exportUrl("example.com", "parquet", "", "")).toBe("/api/sites/example.com/export?format=parquet");
  });

  it("sends the days as the Stats API's two-date range, open ends filled", () => {
    expect(exportUrl("example.com", "csv", "2026-01-01", "2026-06-30")).toBe(
      "/api/sites/example.com/export?format=csv&date_range=2026-01-01%2C2026-06-30",
    );
    expect(exportUrl("example.com", "ndjson", "2026-01-01", "")).toBe(
      "/api/sites/example.com/export?format=ndjson&date_range=2026-01-01%2C9999-12-31",
    );
    expect(exportUrl("a b.example", "json", "", "2026-02-01")).toBe(
      "/api/sites/a%20b.example/export?format=json&date_range=1970-01-01%2C2026-02-01",
    );
  });

  it("ignores what is not a day", () => {
    expect(exportUrl("example.com", "parquet", "yesterday", "")).toBe("/api/sites/example.com/export?format=parquet");
  });
});

describe("validRange", () => {
  it("refuses a start after the end only", () => {
    expect(validRange("2026-02-01", "2026-01-01")).toBe(false);
    expect(validRange("2026-01-01", "2026-01-01")).toBe(true);
    expect(validRange("", "2026-01-01")).toBe(true);
  });
});

describe("retention", () => {
  it("maps the API's days to choices and back", () => {
    expect(retentionChoice(null)).toBe("default");
    expect(retentionChoice(undefined)).toBe("default");
    expect(retentionChoice(0)).toBe("0");
    expect(retentionDays("default")).toBeNull();
    expect(retentionDays("365")).toBe(365);
  });

  it("offers a site's own odd number of days among the usual ones, in order", () => {
    expect(retentionChoices(90)).not.toContain("45");
    const choices = retentionChoices(45);
    expect(choices.slice(0, 4)).toEqual(["default", "0", "30", "45"]);
  });
});
