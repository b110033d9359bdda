import { describe, expect, it } from "vitest";
import { timeAgo } from "./when";

const now = Date.UTC(2026, 11, 7, 12, 0, 0);

describe("timeAgo", () => {
  it("uses the largest whole unit", () => {
    expect(timeAgo(now - 5_000, now, "en")).toBe("5 seconds ago");
    expect(timeAgo(now - 3 * 60_000 - 10_000, now, "en")).toBe("3 minutes ago");
    expect(timeAgo(now - 2 * 3_600_000, now, "en")).toBe("2 hours ago");
    expect(timeAgo(now - 3 * 86_400_000, now, "en")).toBe("3 days ago");
  });

  it("says now for no time, and in the reader's language", () => {
    expect(timeAgo(now, now, "en")).toBe("now");
    expect(timeAgo(now + 10_000, now, "en")).toBe("now");
    expect(timeAgo(now - 60_000, now, "de")).toBe("vor 1 Minute");
  });
});
