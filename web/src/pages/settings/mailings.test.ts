import { afterEach, describe, expect, it } from "vitest";
import { loadLanguage } from "../../lib/i18n";
import { ALERT_KINDS, alertBody, alertProblems, DEFAULT_THRESHOLDS, describeAlert, reportBody, thresholdOf, THRESHOLD_BOUNDS } from "./mailings";

const draft = { email: " ops@example.com ", kind: "visitors_above" as const, threshold: "50", language: "de" as const };

describe("thresholds", () => {
  it("are visitors up to ten million, or a percentage below a whole usual day", () => {
    expect(thresholdOf("visitors_above", "1")).toBe(1);
    expect(thresholdOf("visitors_above", "10000000")).toBe(10_000_000);
    expect(thresholdOf("visitors_above", "10000001")).toBeNull();
    expect(thresholdOf("visitors_above", "0")).toBeNull();
    expect(thresholdOf("traffic_drop", "99")).toBe(99);
    expect(thresholdOf("traffic_drop", "100")).toBeNull();
    expect(thresholdOf("traffic_drop", "0")).toBeNull();
  });

  it("take whole numbers only", () => {
    expect(thresholdOf("traffic_drop", "40.5")).toBeNull();
    expect(thresholdOf("traffic_drop", "-4")).toBeNull();
    expect(thresholdOf("traffic_drop", "")).toBeNull();
    expect(thresholdOf("traffic_drop", " 40 ")).toBe(40);
  });

  it("start within each kind's bounds", () => {
    for (const kind of ALERT_KINDS) {
      const value = Number(DEFAULT_THRESHOLDS[kind]);
      expect(value).toBeGreaterThanOrEqual(THRESHOLD_BOUNDS[kind].min);
      expect(value).toBeLessThanOrEqual(THRESHOLD_BOUNDS[kind].max);
    }
  });
});

describe("alertProblems and alertBody", () => {
  it("send a valid draft with its address trimmed and its threshold a number", () => {
    expect(alertProblems(draft)).toEqual({ email: false, threshold: false });
    expect(alertBody(draft)).toEqual({ email: "ops@example.com", kind: "visitors_above", threshold: 50, language: "de" });
  });

  it("judge the threshold by the kind chosen", () => {
    const drop = { ...draft, kind: "traffic_drop" as const, threshold: "500" };
    expect(alertProblems(drop)).toEqual({ email: false, threshold: true });
    expect(alertBody(drop)).toBeNull();
    expect(alertBody({ ...drop, threshold: "40" })?.threshold).toBe(40);
  });

  it("name each wrong field", () => {
    expect(alertProblems({ ...draft, email: "ops", threshold: "" })).toEqual({ email: true, threshold: true });
    expect(alertBody({ ...draft, email: "ops" })).toBeNull();
  });
});

describe("reportBody", () => {
  it("trims the address and refuses what is not one", () => {
    expect(reportBody({ email: " a@example.com", frequency: "weekly", language: "fr" })).toEqual({ email: "a@example.com", frequency: "weekly", language: "fr" });
    expect(reportBody({ email: "a@example", frequency: "daily", language: "en" })).toBeNull();
    expect(reportBody({ email: "", frequency: "daily", language: "en" })).toBeNull();
  });
});

describe("describeAlert", () => {
  afterEach(() => loadLanguage("en"));

  it("says the condition in words, with the language's numbers and plurals", () => {
    expect(describeAlert({ kind: "visitors_above", threshold: 50 })).toBe("more than 50 visitors now");
    expect(describeAlert({ kind: "visitors_above", threshold: 1 })).toBe("more than 1 visitor now");
    expect(describeAlert({ kind: "visitors_above", threshold: 12000 })).toBe("more than 12,000 visitors now");
    expect(describeAlert({ kind: "traffic_drop", threshold: 40 })).toBe("a day below 40% of the usual");
  });

  it("speaks the dashboard's language", async () => {
    await loadLanguage("de");
    expect(describeAlert({ kind: "visitors_above", threshold: 12000 })).toBe("gerade mehr als 12.000 Besucher");
    expect(describeAlert({ kind: "traffic_drop", threshold: 40 })).toBe("ein Tag unter 40\u00a0% des Üblichen");
  });
});
