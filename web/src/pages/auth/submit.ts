// A signed-out or account form's submission: busy while it is sent, the failure's text
// after (the form stays, with its error).
import { useState } from "preact/hooks";
import { errorText } from "./logic";

export interface Submission<E> {
  busy: boolean;
  error: E | null;
  setError: (error: E | null) => void;
  /**
   * Runs `work`, answering whether it succeeded. After a success the form stays busy (the
   * page is leaving, or the form gives way to what comes next) unless `settle`.
   */
  run: (work: () => Promise<unknown>, options?: { settle?: boolean }) => Promise<boolean>;
}

/** `describe` turns a failure into what the form shows (by default the API's text). */
export function useSubmit(): Submission<string>;
export function useSubmit<E>(describe: (failure: unknown) => E): Submission<E>;
export function useSubmit<E>(describe: (failure: unknown) => E = errorText as (failure: unknown) => E): Submission<E> {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<E | null>(null);
  return {
    busy,
    error,
    setError,
    run: async (work, { settle = false } = {}) => {
      setBusy(true);
      setError(null);
      try {
        await work();
        if (settle) setBusy(false);
        return true;
      } catch (failure) {
        setError(describe(failure));
        setBusy(false);
        return false;
      }
    },
  };
}
