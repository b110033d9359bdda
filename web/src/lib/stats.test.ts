import { describe, expect, it } from "vitest";
import { defaultState } from "./dashboard-state";
import { breakdownQuery, topStatsQuery } from "./stats";

describe("the dashboard's queries", () => {
  it("ask for the site's imported history, which the server adds where it can", () => {
    const state = defaultState();
    expect(topStatsQuery(state, "2026-12-07", ["visitors"]).include).toEqual({ imports: true });
    const compared = topStatsQuery({ ...state, comparison: "previous_period" }, "2026-12-07", ["visitors"]);
    expect(compared.include?.imports).toBe(true);
    expect(compared.include?.comparisons?.mode).toBe("previous_period");
    const sources = breakdownQuery(state, "2026-12-07", "visit:source", ["visitors"]);
    expect(sources.include).toEqual({ total_rows: true, imports: true });
    expect(sources.pagination).toEqual({ limit: 9 });
  });
});
