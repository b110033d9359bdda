// Members: who may see or change the site, and with what role; adding an address without
// an account makes an invitation (a link to pass on, also e-mailed when the instance sends
// mail), which waits here, pending, until it is used or withdrawn.
import { useState } from "preact/hooks";
import { TextField } from "../../components/fields";
import { ErrorMessage } from "../../components/status";
import { get, post, put, sitePath } from "../../lib/api";
import { useLoad } from "../../lib/stats";
import { currentLanguage, t } from "../../lib/i18n";
import { CardForm, apiFieldError, CopyBlock, FormError, formatWhen, ListCard, ListSection, RemoveDialog, Result, Saved, Submit, useAction } from "./forms";
import type { SectionProps } from "./types";
import { isEmail } from "./validate";

const ROLES = ["viewer", "admin", "owner"] as const;

interface Member {
  user_id: number;
  email: string;
  role: string;
}

interface Invitation {
  id: number;
  path: string;
  code: string;
  expires_at_ms: number;
  emailed: boolean;
}

/** An invitation not used yet (`GET /api/sites/<domain>/invitations`). */
interface PendingInvitation {
  id: number;
  email: string;
  site: string | null;
  site_role: string | null;
  expires_at_ms: number;
}

export function MembersSection({ site, account }: SectionProps) {
  const [invited, setInvited] = useState(0);
  return (
    <ListSection<Member>
      title={t("settings.section_members")}
      intro={t("settings.members_intro")}
      listTitle={t("settings.members_list")}
      loadKey={`members\n${site.domain}`}
      load={(signal) => get<Member[]>(sitePath(site.domain, "/members"), signal)}
      none={t("settings.members_none")}
      row={(member, { remove, reload }) => (
        <MemberRow key={member.user_id} domain={site.domain} member={member} self={member.user_id === account?.id} onChanged={reload} onRemove={remove} />
      )}
      footer={<p class="hint">{t("settings.members_admins_note")}</p>}
      form={(reload) => (
        <>
          <AddMember
            domain={site.domain}
            onAdded={() => {
              reload();
              setInvited((n) => n + 1);
            }}
          />
          <PendingInvitations domain={site.domain} refresh={invited} />
        </>
      )}
      remove={{
        title: t("settings.member_remove_title"),
        confirmLabel: t("settings.member_remove"),
        path: (member) => sitePath(site.domain, `/members/${member.user_id}`),
        text: (member) => t("settings.member_remove_text", { email: member.email, domain: site.domain }),
      }}
    />
  );
}

function MemberRow({ domain, member, self, onChanged, onRemove }: { domain: string; member: Member; self: boolean; onChanged: () => void; onRemove: () => void }) {
  const action = useAction();
  const [role, setRole] = useState(member.role);
  return (
    <li>
      <div class="item-main">
        <strong>{member.email}</strong>
        {self ? <span class="badge accent">{t("settings.member_you")}</span> : null}
        {action.error ? <ErrorMessage error={action.error} /> : null}
      </div>
      <div class="item-actions">
        <Saved show={action.done} />
        <label>
          <span class="visually-hidden">{t("settings.member_role_of", { email: member.email })}</span>
          <select
            value={role}
            disabled={action.busy}
            onChange={async (event) => {
              const next = (event.target as HTMLSelectElement).value;
              const before = role;
              setRole(next);
              const ok = await action.run(async () => {
                await put(sitePath(domain, `/members/${member.user_id}`), { role: next });
                return true;
              });
              if (ok) onChanged();
              else setRole(before);
            }}
          >
            {ROLES.map((name) => (
              <option value={name} key={name}>
                {t(`settings.role_${name}`)}
              </option>
            ))}
          </select>
        </label>
        <button type="button" class="button danger small" onClick={onRemove}>
          {t("settings.member_remove")}
        </button>
      </div>
    </li>
  );
}

function AddMember({ domain, onAdded }: { domain: string; onAdded: () => void }) {
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<string>("viewer");
  const [checked, setChecked] = useState(false);
  const [result, setResult] = useState<{ email: string; invitation: Invitation | null } | null>(null);
  const action = useAction();
  const localError = checked && !isEmail(email) ? t("settings.member_email_invalid") : null;
  const apiError = apiFieldError(action.error, "invalid_email", "user_exists");
  return (
    <CardForm
      title={t("settings.member_add")}
      onSubmit={async () => {
        setChecked(true);
        if (!isEmail(email)) return;
        setResult(null);
        const answer = await action.run(() => post<Invitation | { user_id: number; role: string }>(sitePath(domain, "/members"), { email: email.trim(), role }));
        if (!answer) return;
        setResult({ email: email.trim(), invitation: "path" in answer ? answer : null });
        setEmail("");
        setChecked(false);
        onAdded();
      }}
    >
      <div class="form-row">
        <TextField
          id="member-email"
          class="field grow"
          label={t("settings.member_email")}
          type="email"
          autoComplete="off"
          value={email}
          invalid={Boolean(localError || apiError)}
          error={localError ?? apiError}
          onValue={(value) => {
            setEmail(value);
            if (action.error) action.reset();
          }}
        />
        <div class="field">
          <label for="member-role">{t("settings.member_role")}</label>
          <select id="member-role" value={role} onChange={(event) => setRole((event.target as HTMLSelectElement).value)}>
            {ROLES.map((name) => (
              <option value={name} key={name}>
                {t(`settings.role_${name}`)}
              </option>
            ))}
          </select>
        </div>
      </div>
      <p class="hint">{t(`settings.role_${role}_hint`)}</p>
      <FormError error={action.error} shown={["invalid_email", "user_exists"]} />
      <div class="form-actions">
        <Submit busy={action.busy}>{t("settings.member_add_submit")}</Submit>
      </div>
      {result ? (
        <Result>
          {result.invitation ? (
            <>
              <p>
                <strong>{t("settings.member_invited", { email: result.email })}</strong>{" "}
                {result.invitation.emailed ? t("settings.member_invite_emailed") : t("settings.member_invite_pass_on")}
              </p>
              <CopyBlock text={window.location.origin + result.invitation.path} label={t("settings.member_invite_link")} />
              <p class="hint">{t("settings.member_invite_expires", { when: formatWhen(result.invitation.expires_at_ms, currentLanguage()) })}</p>
            </>
          ) : (
            <p>
              <strong>{t("settings.member_added", { email: result.email })}</strong>
            </p>
          )}
        </Result>
      ) : null}
    </CardForm>
  );
}

/** The site's invitations not used yet, each with a way to withdraw it. */
function PendingInvitations({ domain, refresh }: { domain: string; refresh: number }) {
  const [withdrawn, setWithdrawn] = useState(0);
  const [removing, setRemoving] = useState<PendingInvitation | null>(null);
  const loaded = useLoad(`invitations\n${domain}`, (signal) => get<PendingInvitation[]>(sitePath(domain, "/invitations"), signal), refresh + withdrawn);
  return (
    <>
      <ListCard<PendingInvitation>
        title={t("settings.invitations_title")}
        load={loaded}
        none={t("settings.invitations_none")}
        row={(invitation) => (
          <li key={invitation.id}>
            <div class="item-main">
              <strong>{invitation.email}</strong>{" "}
              <span class="muted">
                {invitation.site_role ? t(`settings.role_${invitation.site_role}`) : null} · {t("settings.member_invite_expires", { when: formatWhen(invitation.expires_at_ms, currentLanguage()) })}
              </span>
            </div>
            <div class="item-actions">
              <button type="button" class="button danger small" onClick={() => setRemoving(invitation)}>
                {t("settings.invitation_withdraw")}
              </button>
            </div>
          </li>
        )}
      />
      <RemoveDialog<PendingInvitation>
        item={removing}
        title={t("settings.invitation_withdraw_title")}
        confirmLabel={t("settings.invitation_withdraw")}
        path={(invitation) => sitePath(domain, `/invitations/${invitation.id}`)}
        text={(invitation) => t("settings.invitation_withdraw_text", { email: invitation.email })}
        onClose={() => setRemoving(null)}
        onRemoved={() => setWithdrawn((n) => n + 1)}
      />
    </>
  );
}
