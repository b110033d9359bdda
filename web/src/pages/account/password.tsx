// Changing the password (the current one confirms it); every other session ends.
import { useState } from "preact/hooks";
import { put } from "../../lib/api";
import { t } from "../../lib/i18n";
import { errorText } from "../auth/logic";
import { NewPasswordField } from "../auth/password-field";

export function PasswordCard({ hasPassword, email }: { hasPassword: boolean; email: string }) {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [had, setHad] = useState(hasPassword);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setDone(false);
    try {
      await put("/api/account/password", had ? { current_password: current, new_password: next } : { new_password: next });
      setCurrent("");
      setNext("");
      setDone(true);
      setHad(true);
    } catch (failure) {
      setError(errorText(failure));
    }
    setBusy(false);
  };
  return (
    <section class="card" aria-labelledby="password-title">
      <h2 id="password-title">{had ? t("account.change_password") : t("account.set_password")}</h2>
      <p class="muted small">{had ? t("account.password_intro") : t("account.no_password_intro")}</p>
      <form onSubmit={submit}>
        {/* For password managers: the account this password belongs to. */}
        <input type="email" autocomplete="username" value={email} hidden readOnly />
        {had ? (
          <div class="field">
            <label for="current-password">{t("account.current_password")}</label>
            <input
              id="current-password"
              type="password"
              autocomplete="current-password"
              required
              value={current}
              onInput={(event) => setCurrent((event.target as HTMLInputElement).value)}
            />
          </div>
        ) : null}
        <NewPasswordField id="new-password" value={next} onInput={setNext} email={email} />
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
        {done ? (
          <p class="notice" role="status">
            {t("account.password_changed")}
          </p>
        ) : null}
        <button type="submit" class="button" disabled={busy}>
          {busy ? t("auth.saving") : had ? t("account.change_password") : t("account.set_password")}
        </button>
      </form>
    </section>
  );
}
