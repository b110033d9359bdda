// A new password's field: at least 10 characters, with a live hint of its strength and a
// button to show what was typed. Used by setup, invitations, resets and the account page.
// And the current password's field, which confirms a change on the account page.
import { useId, useState } from "preact/hooks";
import { TextField } from "../../components/fields";
import { t } from "../../lib/i18n";
import { MIN_PASSWORD_LENGTH, passwordStrength } from "./logic";

const LEVEL: Record<string, number> = { too_short: 0, is_email: 0, weak: 1, fair: 2, strong: 3 };

export function NewPasswordField({
  value,
  onInput,
  email = "",
  label,
  id,
}: {
  value: string;
  onInput: (value: string) => void;
  email?: string;
  label?: string;
  id?: string;
}) {
  const fallbackId = useId();
  const inputId = id ?? fallbackId;
  const hintId = `${inputId}-hint`;
  const [shown, setShown] = useState(false);
  const strength = passwordStrength(value, email);
  return (
    <div class="field">
      <label for={inputId}>{label ?? t("auth.new_password")}</label>
      <div class="password-row">
        <input
          id={inputId}
          type={(shown ? "text" : "password") as "password"}
          autocomplete="new-password"
          required
          minLength={MIN_PASSWORD_LENGTH}
          maxLength={1024}
          value={value}
          aria-describedby={hintId}
          onInput={(event) => onInput((event.target as HTMLInputElement).value)}
        />
        <button type="button" class="button secondary small" aria-pressed={shown} aria-controls={inputId} onClick={() => setShown(!shown)}>
          {shown ? t("auth.hide_password") : t("auth.show_password")}
        </button>
      </div>
      <div class={`strength strength-${LEVEL[strength]}`} aria-hidden="true">
        <span />
        <span />
        <span />
      </div>
      <span class="hint" id={hintId} aria-live="polite">
        {value ? t(`auth.strength.${strength}`) : t("auth.password_rule", { min: MIN_PASSWORD_LENGTH })}
      </span>
    </div>
  );
}

/** The password the person has now, confirming a change (`<div class="field">`, no hint). */
export function PasswordField({
  id,
  value,
  onInput,
  label = t("account.your_password"),
  autoFocus = false,
}: {
  id: string;
  value: string;
  onInput: (value: string) => void;
  label?: string;
  autoFocus?: boolean;
}) {
  return <TextField id={id} label={label} type="password" autocomplete="current-password" required autoFocus={autoFocus || undefined} value={value} onValue={onInput} />;
}

/** A new account's name (setup, invitations). */
export function NameField({ id, value, onInput }: { id: string; value: string; onInput: (value: string) => void }) {
  return <TextField id={id} label={t("auth.name")} autocomplete="name" maxLength={100} autoFocus value={value} onValue={onInput} />;
}
