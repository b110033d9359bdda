// Changing the password (the current one confirms it); every other session ends.
import { useState } from "preact/hooks";
import { put } from "../../lib/api";
import { t } from "../../lib/i18n";
import { FormAlert } from "../../components/fields";
import { NewPasswordField, PasswordField } from "../auth/password-field";
import { useSubmit } from "../auth/submit";

export function PasswordCard({ hasPassword, email }: { hasPassword: boolean; email: string }) {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const { busy, error, run } = useSubmit();
  const [done, setDone] = useState(false);
  const [had, setHad] = useState(hasPassword);
  const submit = (event: Event) => {
    event.preventDefault();
    setDone(false);
    void run(
      async () => {
        await put("/api/account/password", had ? { current_password: current, new_password: next } : { new_password: next });
        setCurrent("");
        setNext("");
        setDone(true);
        setHad(true);
      },
      { settle: true },
    );
  };
  return (
    <section class="card" aria-labelledby="password-title">
      <h2 id="password-title">{had ? t("account.change_password") : t("account.set_password")}</h2>
      <p class="muted small">{had ? t("account.password_intro") : t("account.no_password_intro")}</p>
      <form onSubmit={submit}>
        {/* For password managers: the account this password belongs to. */}
        <input type="email" autocomplete="username" value={email} hidden readOnly />
        {had ? <PasswordField id="current-password" label={t("account.current_password")} value={current} onInput={setCurrent} /> : null}
        <NewPasswordField id="new-password" value={next} onInput={setNext} email={email} />
        <FormAlert error={error} />
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
