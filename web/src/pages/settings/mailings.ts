// A site's e-mail reports and alerts (`/api/sites/<domain>/reports` and `/alerts`): what the
// API answers, an alert's threshold bounds per kind (the store's own), the words for an
// alert, and the forms' checks before they are sent (the API keeps the final word).
import { t, type Language } from "../../lib/i18n";
import { isEmail, wholeNumber } from "./validate";

export const FREQUENCIES = ["daily", "weekly", "monthly"] as const;
export type Frequency = (typeof FREQUENCIES)[number];

export const ALERT_KINDS = ["visitors_above", "traffic_drop"] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/** A report's recipient, as listed. */
export interface ReportSubscription {
  id: number;
  site_id: number;
  email: string;
  frequency: Frequency;
  language: Language;
  created_at_ms: number;
}

/** An alert, as listed; `episode_start_ms` is set while its condition holds (one mail per episode). */
export interface Alert {
  id: number;
  site_id: number;
  email: string;
  language: Language;
  kind: AlertKind;
  threshold: number;
  episode_start_ms: number | null;
  created_at_ms: number;
}

/**
 * What a threshold may be: visitors in the last five minutes, or a percentage of the usual
 * day (below 100, else every day would be a drop). The store refuses anything else.
 */
export const THRESHOLD_BOUNDS: Record<AlertKind, { min: number; max: number }> = {
  visitors_above: { min: 1, max: 10_000_000 },
  traffic_drop: { min: 1, max: 99 },
};

/** What the threshold field holds before anything is typed, per kind. */
export const DEFAULT_THRESHOLDS: Record<AlertKind, string> = {
  visitors_above: "100",
  traffic_drop: "50",
};

/** The alert's condition in words: "more than 50 visitors now", "a day below 40% of the usual". */
export function describeAlert(alert: Pick<Alert, "kind" | "threshold">): string {
  return t(`settings.alert_condition_${alert.kind}`, { count: alert.threshold });
}

/** A report's fields as typed. */
export interface ReportDraft {
  email: string;
  frequency: Frequency;
  language: Language;
}

/** An alert's fields as typed (the threshold as its field's text). */
export interface AlertDraft {
  email: string;
  kind: AlertKind;
  threshold: string;
  language: Language;
}

/** Which of an alert's fields are wrong. */
export interface AlertProblems {
  email: boolean;
  threshold: boolean;
}

/** The body of `POST .../reports` for a draft, or null when its address is not one. */
export function reportBody(draft: ReportDraft): ReportDraft | null {
  if (!isEmail(draft.email)) return null;
  return { email: draft.email.trim(), frequency: draft.frequency, language: draft.language };
}

/** The threshold typed for `kind`, or null when it is not a whole number within its bounds. */
export function thresholdOf(kind: AlertKind, text: string): number | null {
  const { min, max } = THRESHOLD_BOUNDS[kind];
  return wholeNumber(text, min, max);
}

/** What is wrong with an alert's draft. */
export function alertProblems(draft: AlertDraft): AlertProblems {
  return { email: !isEmail(draft.email), threshold: thresholdOf(draft.kind, draft.threshold) === null };
}

/** The body of `POST .../alerts` for a draft, or null when a field is wrong. */
export function alertBody(draft: AlertDraft): { email: string; kind: AlertKind; threshold: number; language: Language } | null {
  const threshold = thresholdOf(draft.kind, draft.threshold);
  if (!isEmail(draft.email) || threshold === null) return null;
  return { email: draft.email.trim(), kind: draft.kind, threshold, language: draft.language };
}
