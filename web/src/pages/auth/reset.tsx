// Forgotten passwords: ask for a link (the same answer for every address), then, from the
// mailed link, choose a new password and sign in with it.
import { useState } from "preact/hooks";
import { FormAlert, TextField } from "../../components/fields";
import { ErrorMessage, Spinner } from "../../components/status";
import { post } from "../../lib/api";
import { t } from "../../lib/i18n";
import { Link } from "../../components/link";
import { navigate, useLocation } from "../../lib/router";
import { AuthFrame } from "./frame";
import { errorText } from "./logic";
import { NewPasswordField } from "./password-field";
import { leaveNotice, useAuthStatus } from "./status";
import { useSubmit } from "./submit";

export function ResetPage() {
  const { params } = useLocation();
  const code = params.get("code")?.trim() ?? "";
  return code ? <NewPassword code={code} /> : <AskForLink />;
}

function AskForLink() {
  const status = useAuthStatus();
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState(false);
  const { busy, error, run } = useSubmit();
  const submit = (event: Event) => {
    event.preventDefault();
    void run(
      async () => {
        await post("/api/auth/password-reset", { email: email.trim() });
        setSent(true);
      },
      { settle: true },
    );
  };
  let body;
  if (status.error) body = <ErrorMessage error={status.error} />;
  else if (!status.data) body = <Spinner />;
  else if (!status.data.email_enabled) body = <p>{t("auth.reset_no_email")}</p>;
  else if (sent)
    body = (
      <p class="notice" role="status">
        {t("auth.reset_sent")}
      </p>
    );
  else
    body = (
      <form class="auth-form" onSubmit={submit}>
        <p>{t("auth.reset_intro")}</p>
        <FormAlert error={error} />
        <TextField id="reset-email" label={t("auth.email")} type="email" autocomplete="username" required autoFocus value={email} onValue={setEmail} />
        <button type="submit" class="button wide" disabled={busy}>
          {busy ? t("auth.sending") : t("auth.send_link")}
        </button>
      </form>
    );
  return (
    <AuthFrame title={t("auth.reset_title")}>
      {body}
      <p class="auth-footer">
        <Link href="/login">{t("auth.back_to_sign_in")}</Link>
      </p>
    </AuthFrame>
  );
}

function NewPassword({ code }: { code: string }) {
  const [password, setPassword] = useState("");
  // A used or expired link offers a new one.
  const { busy, error, run } = useSubmit((failure) => ({
    text: errorText(failure),
    ended: failure instanceof Error && "code" in failure && failure.code === "invalid_reset_code",
  }));
  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const done = await post<{ email: string }>("/api/auth/password-reset/complete", { code, password });
      leaveNotice({ key: "auth.reset_done", email: done.email });
      navigate("/login", { replace: true });
    });
  };
  return (
    <AuthFrame title={t("auth.new_password_title")}>
      <FormAlert error={error?.text} />
      {error?.ended ? (
        <Link href="/reset" class="button wide">
          {t("auth.ask_new_link")}
        </Link>
      ) : (
        <form class="auth-form" onSubmit={submit}>
          <p>{t("auth.new_password_intro")}</p>
          <NewPasswordField id="reset-password" value={password} onInput={setPassword} />
          <button type="submit" class="button wide" disabled={busy}>
            {busy ? t("auth.saving") : t("auth.set_password")}
          </button>
        </form>
      )}
    </AuthFrame>
  );
}
