// Small pieces of the account page: copying a secret, the recovery codes shown once, a
// dialog that asks for the password (or a code) before a sensitive change, an
// authenticator code's field, a form's buttons, and a table that becomes cards on a phone.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { FormAlert, TextField } from "../../components/fields";
import { Modal } from "../../components/modal";
import { t } from "../../lib/i18n";
import { PasswordField } from "../auth/password-field";
import { useSubmit } from "../auth/submit";
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
  const { busy, error, run } = useSubmit();
  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      await onConfirm(secret);
      onClose();
    });
  };
  return (
    <Modal title={title} onClose={onClose}>
      <form onSubmit={submit}>
        <p>{text}</p>
        {ask === "password" ? <PasswordField id="confirm-password" autoFocus value={secret} onInput={setSecret} /> : null}
        {ask === "code" ? <CodeField id="confirm-code" label={t("account.current_code")} autoFocus value={secret} onInput={setSecret} /> : null}
        <FormAlert error={error} />
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

/** A six-digit code from the authenticator app. */
export function CodeField({ id, label, value, onInput, autoFocus = false }: { id: string; label: string; value: string; onInput: (value: string) => void; autoFocus?: boolean }) {
  return (
    <TextField
      id={id}
      label={label}
      inputClass="code-input"
      autocomplete="one-time-code"
      inputMode="numeric"
      pattern="[0-9 ]{6,7}"
      maxLength={7}
      required
      autoFocus={autoFocus || undefined}
      value={value}
      onValue={onInput}
    />
  );
}

/** A form's submit button (disabled while busy) and, with `onCancel`, its cancel button. */
export function FormButtons({ label, busy, disabled = false, onCancel }: { label: ComponentChildren; busy: boolean; disabled?: boolean; onCancel?: (() => void) | null }) {
  return (
    <div class="actions">
      <button type="submit" class="button" disabled={busy || disabled}>
        {label}
      </button>
      {onCancel ? (
        <button type="button" class="button secondary" onClick={onCancel}>
          {t("common.cancel")}
        </button>
      ) : null}
    </div>
  );
}

/**
 * A table of `rows` that becomes cards on a phone: each cell carries its column's label
 * (data-label), and a last, unlabelled column holds the row's action.
 */
export function CardTable<T>({
  class: className,
  columns,
  rows,
  rowKey,
  rowClass,
  cells,
  action,
}: {
  class: string;
  columns: string[];
  rows: T[];
  rowKey: (row: T) => string | number;
  rowClass?: (row: T) => string | undefined;
  /** The row's cells, one a column. */
  cells: (row: T) => ComponentChildren[];
  action: (row: T) => ComponentChildren;
}) {
  return (
    <div class="table-scroll">
      <table class={`data ${className}`}>
        <thead>
          <tr>
            {columns.map((column) => (
              <th scope="col" key={column}>
                {column}
              </th>
            ))}
            <th scope="col">
              <span class="visually-hidden">{t("account.actions")}</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={rowKey(row)} class={rowClass?.(row)}>
              {cells(row).map((cell, index) => (
                <td data-label={columns[index]} key={index}>
                  {cell}
                </td>
              ))}
              <td class="number">{action(row)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
