// First run: the setup link that `hitkeep serve` printed creates the instance's owner.
import { useState } from "preact/hooks";
import { ErrorMessage, Spinner } from "../../components/status";
import { post } from "../../lib/api";
import { t } from "../../lib/i18n";
import { useLocation } from "../../lib/router";
import { AuthFrame } from "./frame";
import { FormAlert, TextField } from "../../components/fields";
import { NameField, NewPasswordField } from "./password-field";
import { useAuthStatus } from "./status";
import { useSubmit } from "./submit";

export function SetupPage() {
  const { params } = useLocation();
  const code = params.get("code")?.trim() ?? "";
  const status = useAuthStatus();
  let body;
  if (status.error) body = <ErrorMessage error={status.error} />;
  else if (!status.data) body = <Spinner />;
  else if (!status.data.setup_required)
    body = (
      <>
        <p>{t("auth.setup_done_already")}</p>
        <a class="button wide" href="/login">
          {t("auth.sign_in")}
        </a>
      </>
    );
  else if (!code) body = <p>{t("auth.setup_needs_link")}</p>;
  else body = <SetupForm code={code} />;
  return <AuthFrame title={t("auth.setup_title")}>{body}</AuthFrame>;
}

function SetupForm({ code }: { code: string }) {
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const { busy, error, run } = useSubmit();
  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      await post("/api/auth/setup", { code, name: name.trim(), email: email.trim(), password });
      window.location.assign("/");
    });
  };
  return (
    <form class="auth-form" onSubmit={submit}>
      <p>{t("auth.setup_intro")}</p>
      <FormAlert error={error} />
      <NameField id="setup-name" value={name} onInput={setName} />
      <TextField id="setup-email" label={t("auth.email")} type="email" autocomplete="username" required value={email} onValue={setEmail} />
      <NewPasswordField id="setup-password" label={t("auth.password")} value={password} onInput={setPassword} email={email} />
      <button type="submit" class="button wide" disabled={busy}>
        {busy ? t("auth.creating") : t("auth.create_owner")}
      </button>
    </form>
  );
}
