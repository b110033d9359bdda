// Small pieces of the account page: copying a secret, the recovery codes shown once, and
// a dialog that asks for the password (or a code) before a sensitive change.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { Modal } from "../../components/modal";
import { t } from "../../lib/i18n";
import { errorText } from "../auth/logic";
import { recoveryCodesFile } from "./logic";

/** Copies `text`; says so for a moment. */
export function CopyButton({ text, label }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      class="button secondary small"
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
          setCopied(true);
          setTimeout(() => setCopied(false), 2000);
        } catch {
          setCopied(false);
        }
      }}
    >
      {copied ? t("common.copied") : (label ?? t("common.copy"))}
      <span class="visually-hidden" aria-live="polite">
        {copied ? t("common.copied") : ""}
      </span>
    </button>
  );
}

/** New recovery codes, shown this once, with copy and download. */
export function RecoveryCodes({ codes, email, onDone }: { codes: string[]; email: string; onDone: () => void }) {
  const file = recoveryCodesFile(codes, email, window.location.origin, new Date());
  const download = () => {
    const url = URL.createObjectURL(new Blob([file], { type: "text/plain;charset=utf-8" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = "hitkeep-recovery-codes.txt";
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  return (
    <div class="recovery">
      <p class="notice" role="status">
        {t("account.recovery_codes_intro")}
      </p>
      <ol class="recovery-codes" id="recovery-codes">
        {codes.map((code) => (
          <li key={code}>
            <code>{code}</code>
          </li>
        ))}
      </ol>
      <div class="actions">
        <CopyButton text={codes.join("\n")} label={t("account.copy_codes")} />
        <button type="button" class="button secondary small" onClick={download}>
          {t("account.download_codes")}
        </button>
        <button type="button" class="button small" onClick={onDone}>
          {t("account.codes_saved")}
        </button>
      </div>
    </div>
  );
}

/**
 * Asks for the password (or, with `asCode`, an authenticator code) and runs `action` with
 * it; the dialog stays open with the error when it fails.
 */
export function ConfirmDialog({
  title,
  text,
  confirmLabel,
  danger,
  ask,
  onConfirm,
  onClose,
}: {
  title: string;
  text: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  ask: "password" | "code" | null;
  onConfirm: (secret: string) => Promise<void>;
  onClose: () => void;
}) {
  const [secret, setSecret] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onConfirm(secret);
      onClose();
      return;
    } catch (failure) {
      setError(errorText(failure));
    }
    setBusy(false);
  };
  return (
    <Modal title={title} onClose={onClose}>
      <form onSubmit={submit}>
        <p>{text}</p>
        {ask === "password" ? (
          <div class="field">
            <label for="confirm-password">{t("account.your_password")}</label>
            <input
              id="confirm-password"
              type="password"
              autocomplete="current-password"
              required
              autoFocus
              value={secret}
              onInput={(event) => setSecret((event.target as HTMLInputElement).value)}
            />
          </div>
        ) : null}
        {ask === "code" ? (
          <div class="field">
            <label for="confirm-code">{t("account.current_code")}</label>
            <input
              id="confirm-code"
              class="code-input"
              autocomplete="one-time-code"
              inputMode="numeric"
              pattern="[0-9 ]{6,7}"
              maxLength={7}
              required
              autoFocus
              value={secret}
              onInput={(event) => setSecret((event.target as HTMLInputElement).value)}
            />
          </div>
        ) : null}
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
        <div class="actions end">
          <button type="button" class="button secondary" onClick={onClose}>
            {t("common.cancel")}
          </button>
          <button type="submit" class={danger ? "button danger" : "button"} disabled={busy}>
            {confirmLabel}
          </button>
        </div>
      </form>
    </Modal>
  );
}
