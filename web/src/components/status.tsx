import { ApiError } from "../lib/api";
import { t } from "../lib/i18n";

/** A quiet "loading" mark, announced to screen readers. */
export function Spinner({ label }: { label?: string }) {
  return (
    <div class="spinner" role="status" aria-live="polite">
      <span class="spinner-dot" aria-hidden="true" />
      <span class="visually-hidden">{label ?? t("common.loading")}</span>
    </div>
  );
}

/** An error as a sentence, with its machine code for the curious. */
export function ErrorMessage({ error }: { error: Error }) {
  const code = error instanceof ApiError ? error.code : null;
  return (
    <p class="error" role="alert">
      {error.message}
      {code && code !== "error" ? <span class="muted"> ({code})</span> : null}
    </p>
  );
}

/** Nothing to show yet. */
export function Empty({ children }: { children: preact.ComponentChildren }) {
  return <p class="empty muted">{children}</p>;
}
