// An invitation's link: what it offers, then a name and a password make the account.
import { useState } from "preact/hooks";
import { FormAlert } from "../../components/fields";
import { Spinner } from "../../components/status";
import { get, post } from "../../lib/api";
import { formatDate } from "../account/logic";
import { t } from "../../lib/i18n";
import { useLocation } from "../../lib/router";
import { useLoad } from "../../lib/stats";
import { AuthFrame } from "./frame";
import { errorText } from "./logic";
import { NameField, NewPasswordField } from "./password-field";
import { useSubmit } from "./submit";

interface Invitation {
  email: string;
  role: string;
  site: string | null;
  site_role: string | null;
  expires_at_ms: number;
}

export function InvitePage() {
  const { params } = useLocation();
  const code = params.get("code")?.trim() ?? "";
  const invitation = useLoad(code ? code : null, (signal) => get<Invitation>(`/api/auth/invitations/${encodeURIComponent(code)}`, signal));
  let body;
  if (!code) body = <p>{t("auth.invite_needs_link")}</p>;
  else if (invitation.error) body = <FormAlert error={errorText(invitation.error)} />;
  else if (!invitation.data) body = <Spinner />;
  else body = <InviteForm code={code} invitation={invitation.data} />;
  return <AuthFrame title={t("auth.invite_title")}>{body}</AuthFrame>;
}

function InviteForm({ code, invitation }: { code: string; invitation: Invitation }) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const { busy, error, run } = useSubmit();
  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      await post("/api/auth/invitations/accept", { code, name: name.trim(), password });
      window.location.assign("/");
    });
  };
  return (
    <form class="auth-form" onSubmit={submit}>
      <p>{t("auth.invite_intro", { email: invitation.email })}</p>
      <ul class="offer">
        <li>{t("auth.invite_role", { role: t(`auth.role.${invitation.role}`) })}</li>
        {invitation.site && invitation.site_role ? (
          <li>{t("auth.invite_site", { site: invitation.site, role: t(`auth.site_role.${invitation.site_role}`) })}</li>
        ) : null}
        <li class="muted">{t("auth.invite_expires", { date: formatDate(invitation.expires_at_ms) })}</li>
      </ul>
      <FormAlert error={error} />
      <input type="email" autocomplete="username" value={invitation.email} hidden readOnly aria-hidden="true" tabIndex={-1} />
      <NameField id="invite-name" value={name} onInput={setName} />
      <NewPasswordField id="invite-password" label={t("auth.password")} value={password} onInput={setPassword} email={invitation.email} />
      <button type="submit" class="button wide" disabled={busy}>
        {busy ? t("auth.creating") : t("auth.create_account")}
      </button>
    </form>
  );
}
