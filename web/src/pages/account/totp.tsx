// The authenticator app (TOTP): set up with the password, the QR code (drawn by the server)
// and a first code; then recovery codes shown once; new codes, or removal.
import { useEffect, useState } from "preact/hooks";
import { ErrorMessage, Spinner } from "../../components/status";
import { del, get, post, type Account } from "../../lib/api";
import { t } from "../../lib/i18n";
import { useLoad } from "../../lib/stats";
import { FormAlert } from "../../components/fields";
import { errorText } from "../auth/logic";
import { PasswordField } from "../auth/password-field";
import { useSubmit } from "../auth/submit";
import { groupKey, svgImage } from "./logic";
import { CodeField, ConfirmDialog, CopyButton, FormButtons, RecoveryCodes } from "./parts";

interface Factors {
  totp: { confirmed: boolean; created_at_ms: number } | null;
  recovery_codes_left: number;
  required: boolean;
}

interface Enrolment {
  secret: string;
  otpauth_url: string;
  qr_svg: string;
}

type Step = { kind: "idle" } | { kind: "password" } | { kind: "scan"; enrolment: Enrolment } | { kind: "codes"; codes: string[] };

export function AuthenticatorCard({ account, onFactorsChanged }: { account: Account; onFactorsChanged: (kind: "totp", on: boolean) => void }) {
  const [refresh, setRefresh] = useState(0);
  const factors = useLoad("factors", (signal) => get<Factors>("/api/account/factors", signal), refresh);
  const [step, setStep] = useState<Step>({ kind: "idle" });
  const [dialog, setDialog] = useState<"remove" | "codes" | null>(null);
  const on = factors.data?.totp?.confirmed ?? false;
  useEffect(() => {
    if (factors.data) onFactorsChanged("totp", on);
  }, [factors.data, on]);
  const reload = () => setRefresh((count) => count + 1);

  let body;
  if (step.kind === "scan") {
    body = (
      <Scan
        enrolment={step.enrolment}
        onCancel={() => setStep({ kind: "idle" })}
        onConfirmed={(codes) => {
          setStep({ kind: "codes", codes });
          reload();
        }}
      />
    );
  } else if (step.kind === "codes") {
    body = <RecoveryCodes codes={step.codes} email={account.email} onDone={() => setStep({ kind: "idle" })} />;
  } else if (factors.error && !factors.data) {
    body = <ErrorMessage error={factors.error} />;
  } else if (!factors.data) {
    body = <Spinner />;
  } else if (on) {
    const left = factors.data.recovery_codes_left;
    body = (
      <>
        <p>{t("account.totp_on")}</p>
        <p class={left <= 3 ? "warn-text" : "muted"}>{t("account.recovery_codes_left", { count: left })}</p>
        <div class="actions">
          <button type="button" class="button secondary" onClick={() => setDialog("codes")}>
            {t("account.new_recovery_codes")}
          </button>
          <button type="button" class="button danger" onClick={() => setDialog("remove")}>
            {t("account.remove_totp")}
          </button>
        </div>
      </>
    );
  } else if (step.kind === "password" || !account.has_password) {
    body = (
      <Begin
        hasPassword={account.has_password}
        onStarted={(enrolment) => setStep({ kind: "scan", enrolment })}
        onCancel={account.has_password ? () => setStep({ kind: "idle" }) : null}
      />
    );
  } else {
    body = (
      <>
        <p>{t("account.totp_off")}</p>
        <button type="button" class="button" onClick={() => setStep({ kind: "password" })}>
          {t("account.set_up_totp")}
        </button>
      </>
    );
  }

  return (
    <section class="card" aria-labelledby="totp-title">
      <div class="card-head">
        <h3 id="totp-title">{t("account.totp")}</h3>
        {factors.data ? <span class={on ? "badge good-badge" : "badge"}>{on ? t("account.on") : t("account.off")}</span> : null}
      </div>
      {body}
      {dialog === "remove" ? (
        <ConfirmDialog
          title={t("account.remove_totp")}
          text={t("account.remove_totp_text")}
          confirmLabel={t("account.remove_totp")}
          danger
          ask={account.has_password ? "password" : "code"}
          onConfirm={async (secret) => {
            await del("/api/account/totp", account.has_password ? { password: secret } : { code: secret.trim() });
            reload();
          }}
          onClose={() => setDialog(null)}
        />
      ) : null}
      {dialog === "codes" ? (
        <ConfirmDialog
          title={t("account.new_recovery_codes")}
          text={t("account.new_recovery_codes_text")}
          confirmLabel={t("account.make_new_codes")}
          ask="code"
          onConfirm={async (code) => {
            const answer = await post<{ recovery_codes: string[] }>("/api/account/recovery-codes", { code: code.trim() });
            setStep({ kind: "codes", codes: answer.recovery_codes });
            reload();
          }}
          onClose={() => setDialog(null)}
        />
      ) : null}
    </section>
  );
}

function Begin({ hasPassword, onStarted, onCancel }: { hasPassword: boolean; onStarted: (enrolment: Enrolment) => void; onCancel: (() => void) | null }) {
  const [password, setPassword] = useState("");
  const { busy, error, run } = useSubmit();
  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => onStarted(await post<Enrolment>("/api/account/totp", hasPassword ? { password } : {})));
  };
  return (
    <form onSubmit={submit}>
      <p>{hasPassword ? t("account.totp_intro") : t("account.totp_off")}</p>
      {hasPassword ? <PasswordField id="totp-password" autoFocus value={password} onInput={setPassword} /> : null}
      <FormAlert error={error} />
      <FormButtons label={hasPassword ? t("account.continue") : t("account.set_up_totp")} busy={busy} onCancel={onCancel} />
    </form>
  );
}

function Scan({ enrolment, onCancel, onConfirmed }: { enrolment: Enrolment; onCancel: () => void; onConfirmed: (codes: string[]) => void }) {
  const [code, setCode] = useState("");
  // A refused code is cleared for the next one.
  const { busy, error, run } = useSubmit((failure) => {
    setCode("");
    return errorText(failure);
  });
  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const answer = await post<{ recovery_codes: string[] }>("/api/account/totp/confirm", { code: code.trim() });
      onConfirmed(answer.recovery_codes);
    });
  };
  return (
    <form onSubmit={submit} class="totp-scan">
      <ol class="steps">
        <li>
          <p>{t("account.scan_qr")}</p>
          <div class="qr">
            <img src={svgImage(enrolment.qr_svg)} width={200} height={200} alt={t("account.qr_alt")} />
          </div>
          <p class="muted small">{t("account.or_type_key")}</p>
          <div class="key-row">
            <code id="totp-secret" data-secret={enrolment.secret}>
              {groupKey(enrolment.secret)}
            </code>
            <CopyButton text={enrolment.secret} />
          </div>
          <p class="small">
            <a href={enrolment.otpauth_url}>{t("account.open_in_app")}</a>
          </p>
        </li>
        <li>
          <CodeField id="totp-code" label={t("account.first_code")} value={code} onInput={setCode} />
        </li>
      </ol>
      <FormAlert error={error} />
      <FormButtons label={t("account.turn_on")} busy={busy} onCancel={onCancel} />
    </form>
  );
}
