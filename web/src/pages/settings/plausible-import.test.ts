import { afterEach, describe, expect, it } from "vitest";
import { ApiError } from "../../lib/api";
import { loadLanguage } from "../../lib/i18n";
import {
  dayRange,
  describeRows,
  exportFileTable,
  fileProblem,
  MAX_UPLOAD_BYTES,
  PLAUSIBLE_TABLES,
  rowsPerTable,
  uploadFailure,
  uploadPath,
  uploadProblem,
} from "./plausible-import";

const file = (name: string, size = 100) => ({ name, size });

describe("a chosen file", () => {
  it("is a zip, whatever its name", () => {
    expect(fileProblem(file("plausible-export-example.com.zip"))).toBeNull();
    expect(fileProblem(file("EXPORT.ZIP"))).toBeNull();
  });

  it("or one of the ten files of an export", () => {
    for (const table of PLAUSIBLE_TABLES) {
      expect(fileProblem(file(`imported_${table}_20250101_20250331.csv`)), table).toBeNull();
      expect(exportFileTable(`imported_${table}_20250101_20250331.csv`)).toBe(table);
    }
    expect(PLAUSIBLE_TABLES).toHaveLength(10);
  });

  it("is refused by its name otherwise", () => {
    for (const name of [
      "notes.txt",
      "export.csv",
      "imported_visitors.csv",
      "imported_goals_20250101_20250331.csv",
      "imported_visitors_2025010_20250331.csv",
      "imported_visitors_20250101_202503310.csv",
      "imported_visitors_20250101_20250331.csv.txt",
      "imported_visitors_20250101_20250331.CSV",
      "visitors_20250101_20250331.csv",
      "imported_visitors_20250101_20250331.csv.zip.txt",
      "",
    ]) {
      expect(fileProblem(file(name)), name).toBe("name");
    }
  });

  it("needs days of the calendar in its name", () => {
    expect(exportFileTable("imported_visitors_20250230_20250331.csv")).toBeNull();
    expect(exportFileTable("imported_visitors_20250101_20251301.csv")).toBeNull();
    expect(exportFileTable("imported_visitors_20240229_20240229.csv")).toBe("visitors");
  });

  it("is there, not empty, and at most 1 GiB", () => {
    expect(fileProblem(null)).toBe("missing");
    expect(fileProblem(file("export.zip", 0))).toBe("empty");
    expect(fileProblem(file("export.zip", MAX_UPLOAD_BYTES))).toBeNull();
    expect(fileProblem(file("export.zip", MAX_UPLOAD_BYTES + 1))).toBe("too_large");
  });

  it("is sent with its name in the query", () => {
    expect(uploadPath("/api/sites/example.com/imports", "my export & co.zip")).toBe("/api/sites/example.com/imports?name=my+export+%26+co.zip");
  });
});

describe("what an upload stored", () => {
  afterEach(() => loadLanguage("en"));

  const result = { rows: { imported_sources: 62, imported_custom_events: 0, imported_visitors: 1234, imported_pages: 5 } };

  it("is listed per table in Plausible's order, without empty tables", () => {
    expect(rowsPerTable(result)).toEqual([
      { table: "visitors", rows: 1234 },
      { table: "sources", rows: 62 },
      { table: "pages", rows: 5 },
    ]);
    expect(rowsPerTable({ rows: { imported_future: 3, imported_visitors: 1 } })).toEqual([
      { table: "visitors", rows: 1 },
      { table: "future", rows: 3 },
    ]);
  });

  it("is said in a sentence", () => {
    expect(describeRows(result, "en")).toBe("Rows stored: visitors 1,234, sources 62, and pages 5.");
    expect(describeRows({ rows: { imported_visitors: 0 } }, "en")).toBe("The files held no rows to store.");
  });

  it("in the reader's language", async () => {
    await loadLanguage("de");
    expect(describeRows(result, "de")).toBe("Gespeicherte Zeilen: Besucher 1.234, Quellen 62 und Seiten 5.");
  });
});

describe("days", () => {
  // Intl puts thin and narrow spaces around the dash.
  const range = (first: string, last: string, lang: string) => dayRange(first, last, lang).replace(/\s/g, " ");

  it("are a range as the settings write dates", () => {
    expect(range("2025-01-01", "2025-01-31", "en")).toBe("Jan 1 – 31, 2025");
    expect(range("2024-12-30", "2025-01-02", "en")).toBe("Dec 30, 2024 – Jan 2, 2025");
    expect(range("2025-03-05", "2025-03-05", "en")).toBe("Mar 5, 2025");
    expect(range("2025-01-01", "2025-01-31", "de")).toBe("01.–31.01.2025");
  });
});

describe("a refused upload", () => {
  const refused = (status: number, code: string, message = "server words") => new ApiError(status, code, message);

  it("shows the server's words for an unreadable row, next to the file", () => {
    const error = refused(400, "invalid_takeout", "imported_visitors_20250101_20250105.csv: row 3: visitors is not a number");
    expect(uploadProblem(error)).toBe("imported_visitors_20250101_20250105.csv: row 3: visitors is not a number (invalid_takeout)");
    expect(uploadFailure(error)).toBeNull();
  });

  it("says the file's other problems in the reader's words, next to the file", () => {
    expect(uploadProblem(refused(400, "invalid_import"))).toBe("This file cannot be read as a Plausible export. (invalid_import)");
    expect(uploadProblem(refused(413, "import_too_large"))).toMatch(/^This file is larger than 1\sGiB.*\(import_too_large\)$/);
    expect(uploadFailure(refused(413, "import_too_large"))).toBeNull();
  });

  it("says under the form what is not the file's fault", () => {
    const busy = uploadFailure(refused(429, "too_many_imports"));
    expect(busy).toBeInstanceOf(ApiError);
    expect(busy?.message).toBe("Another import is running; try again when it has finished.");
    expect((busy as ApiError).code).toBe("too_many_imports");
    expect(uploadFailure(refused(408, "upload_timeout"))?.message).toMatch(/^The upload took longer than 15 minutes/);
    const other = refused(403, "forbidden");
    expect(uploadProblem(other)).toBeNull();
    expect(uploadFailure(other)).toBe(other);
    const network = new ApiError(0, "network", "the server cannot be reached");
    expect(uploadFailure(network)).toBe(network);
    expect(uploadFailure(null)).toBeNull();
  });
});
