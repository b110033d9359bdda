// Passkeys: the list, adding one (the browser's prompt; the password confirms it) and
// removing one (with the password).
import { useEffect, useState } from "preact/hooks";
import { ErrorMessage, Spinner } from "../../components/status";
import { del, get } from "../../lib/api";
import { t } from "../../lib/i18n";
import { useLoad } from "../../lib/stats";
import { isCancelled, passkeysSupported, registerPasskey } from "../../lib/webauthn";
import { FormAlert, TextField } from "../../components/fields";
import { errorText } from "../auth/logic";
import { PasswordField } from "../auth/password-field";
import { useSubmit } from "../auth/submit";
import { formatDate } from "./logic";
import { ConfirmDialog, FormButtons } from "./parts";

interface Passkey {
  id: number;
  name: string;
  created_at_ms: number;
  last_used_at_ms: number | null;
}

export function PasskeysCard({ hasPassword, onFactorsChanged }: { hasPassword: boolean; onFactorsChanged: (kind: "passkey", on: boolean) => void }) {
  const [refresh, setRefresh] = useState(0);
  const passkeys = useLoad("passkeys", (signal) => get<Passkey[]>("/api/account/passkeys", signal), refresh);
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<Passkey | null>(null);
  const reload = () => setRefresh((count) => count + 1);
  const count = passkeys.data?.length ?? 0;
  useEffect(() => {
    if (passkeys.data) onFactorsChanged("passkey", count > 0);
  }, [passkeys.data, count]);

  return (
    <section class="card" aria-labelledby="passkeys-title">
      <div class="card-head">
        <h3 id="passkeys-title">{t("account.passkeys")}</h3>
        {passkeys.data ? <span class={count ? "badge good-badge" : "badge"}>{count ? t("account.on") : t("account.off")}</span> : null}
      </div>
      <p class="muted small">{t("account.passkeys_intro")}</p>
      {passkeys.error && !passkeys.data ? <ErrorMessage error={passkeys.error} /> : null}
      {!passkeys.data && !passkeys.error ? <Spinner /> : null}
      {passkeys.data && passkeys.data.length ? (
        <ul class="item-list" id="passkey-list">
          {passkeys.data.map((passkey) => (
            <li key={passkey.id}>
              <div>
                <strong>{passkey.name}</strong>
                <div class="muted small">
                  {t("account.added_at", { date: formatDate(passkey.created_at_ms) })}
                  {" · "}
                  {passkey.last_used_at_ms ? t("account.last_used_at", { date: formatDate(passkey.last_used_at_ms) }) : t("account.never_used")}
                </div>
              </div>
              <button type="button" class="button danger small" onClick={() => setRemoving(passkey)} aria-label={t("account.remove_named", { name: passkey.name })}>
                {t("account.remove")}
              </button>
            </li>
          ))}
        </ul>
      ) : null}
      {!passkeysSupported() ? (
        <p class="muted">{t("account.passkeys_unsupported")}</p>
      ) : adding ? (
        <AddPasskey
          hasPassword={hasPassword}
          suggested={passkeys.data?.length ? "" : defaultName()}
          onAdded={() => {
            setAdding(false);
            reload();
          }}
          onCancel={() => setAdding(false)}
        />
      ) : (
        <button type="button" class="button secondary" onClick={() => setAdding(true)}>
          {t("account.add_passkey")}
        </button>
      )}
      {removing ? (
        <ConfirmDialog
          title={t("account.remove_passkey")}
          text={t("account.remove_passkey_text", { name: removing.name })}
          confirmLabel={t("account.remove")}
          danger
          ask={hasPassword ? "password" : null}
          onConfirm={async (password) => {
            await del(`/api/account/passkeys/${removing.id}`, hasPassword ? { password } : {});
            reload();
          }}
          onClose={() => setRemoving(null)}
        />
      ) : null}
    </section>
  );
}

/** A first guess of the device's name, from the platform the browser reports. */
function defaultName(): string {
  const platform = (navigator as Navigator & { userAgentData?: { platform?: string } }).userAgentData?.platform ?? "";
  return platform ? platform.slice(0, 64) : "";
}

function AddPasskey({ hasPassword, suggested, onAdded, onCancel }: { hasPassword: boolean; suggested: string; onAdded: () => void; onCancel: () => void }) {
  const [name, setName] = useState(suggested);
  const [password, setPassword] = useState("");
  const { busy, error, run } = useSubmit((failure) => (isCancelled(failure) ? t("account.passkey_cancelled") : errorText(failure)));
  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      await registerPasskey(name.trim(), hasPassword ? password : undefined);
      onAdded();
    });
  };
  return (
    <form onSubmit={submit} class="inline-form">
      <TextField
        id="passkey-name"
        label={t("account.passkey_name")}
        required
        maxLength={64}
        autoFocus
        placeholder={t("account.passkey_name_placeholder")}
        value={name}
        onValue={setName}
      />
      {hasPassword ? <PasswordField id="passkey-password" value={password} onInput={setPassword} /> : null}
      <FormAlert error={error} />
      <FormButtons label={busy ? t("auth.waiting_for_passkey") : t("account.add_passkey")} busy={busy} onCancel={onCancel} />
    </form>
  );
}
