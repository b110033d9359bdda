// The sign-in page: e-mail and password, then a second factor when the account has one (a
// code from the authenticator app, a recovery code, or a passkey); a passkey alone (also
// offered in the e-mail field's autofill); single sign-on when the instance has it.
import { useEffect, useRef, useState } from "preact/hooks";
import { FormAlert, TextField } from "../../components/fields";
import { Spinner, ErrorMessage } from "../../components/status";
import { post } from "../../lib/api";
import { t } from "../../lib/i18n";
import { Link } from "../../components/link";
import { useLocation } from "../../lib/router";
import { autofillSupported, isCancelled, passkeysSupported, secondFactorPasskey, signInWithPasskey } from "../../lib/webauthn";
import { AuthFrame } from "./frame";
import { errorText, safeNext } from "./logic";
import { SSO_PATH, takeNotice, useAuthStatus } from "./status";

/** The `202` of a password that needs a second step. */
interface Challenge {
  second_factor_required: true;
  challenge: string;
  methods: string[];
  expires_at_ms: number;
}

/** How long a conditional (autofill) passkey request lives before it is asked anew: the
 * server forgets a ceremony after 5 minutes. */
const AUTOFILL_RENEW_MS = 4 * 60_000;

function done(next: string) {
  // A full load: the app starts again with the new session.
  window.location.assign(next);
}

export function LoginPage() {
  const { params } = useLocation();
  const next = safeNext(params.get("next"), window.location.origin);
  const status = useAuthStatus();
  const [challenge, setChallenge] = useState<Challenge | null>(null);

  let body;
  if (status.error) body = <ErrorMessage error={status.error} />;
  else if (!status.data) body = <Spinner />;
  else if (status.data.setup_required) body = <p>{t("common.setup_required")}</p>;
  else if (challenge) body = <SecondStep challenge={challenge} next={next} onRestart={() => setChallenge(null)} />;
  else
    body = (
      <FirstStep
        passwords={status.data.password_sign_in}
        sso={status.data.oidc}
        forgot={status.data.email_enabled}
        next={next}
        onChallenge={setChallenge}
      />
    );
  return <AuthFrame title={challenge ? t("auth.second_step_title") : t("auth.sign_in_title")}>{body}</AuthFrame>;
}

function FirstStep({
  passwords,
  sso,
  forgot,
  next,
  onChallenge,
}: {
  passwords: boolean;
  sso: string | null;
  forgot: boolean;
  next: string;
  onChallenge: (challenge: Challenge) => void;
}) {
  const [notice] = useState(takeNotice);
  const [email, setEmail] = useState(notice?.email ?? "");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState<"password" | "passkey" | null>(null);
  const [error, setError] = useState<string | null>(null);
  const autofill = useRef<AbortController | null>(null);

  // Passkeys in the e-mail field's autofill, where the browser offers them.
  useEffect(() => {
    if (!passwords) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ask = async () => {
      if (stopped) return;
      const controller = new AbortController();
      autofill.current = controller;
      timer = setTimeout(() => {
        controller.abort();
        void ask();
      }, AUTOFILL_RENEW_MS);
      // Until a passkey is chosen this runs in the background: its failures (no passkey
      // offered, the server busy) are nobody's concern; the server's refusal of a chosen
      // passkey is.
      let chosen = false;
      try {
        await signInWithPasskey({
          conditional: true,
          signal: controller.signal,
          onChosen: () => {
            chosen = true;
            clearTimeout(timer);
            setBusy("passkey");
          },
        });
        done(next);
      } catch (failure) {
        if (!chosen) return;
        setBusy(null);
        setError(errorText(failure));
      }
    };
    void autofillSupported().then((supported) => {
      if (supported) void ask();
    });
    return () => {
      stopped = true;
      clearTimeout(timer);
      autofill.current?.abort();
    };
  }, [passwords]);

  const signInWithPassword = async (event: Event) => {
    event.preventDefault();
    setBusy("password");
    setError(null);
    try {
      const answer = await post<Challenge | { id: number }>("/api/auth/login", { email, password });
      if ("second_factor_required" in answer && answer.second_factor_required) {
        setPassword("");
        onChallenge(answer);
      } else {
        done(next);
        return;
      }
    } catch (failure) {
      setError(errorText(failure));
    }
    setBusy(null);
  };

  const usePasskey = async () => {
    autofill.current?.abort();
    setBusy("passkey");
    setError(null);
    try {
      await signInWithPasskey();
      done(next);
      return;
    } catch (failure) {
      if (!isCancelled(failure)) setError(errorText(failure));
    }
    setBusy(null);
  };

  return (
    <>
      {notice ? (
        <p class="notice" role="status">
          {t(notice.key)}
        </p>
      ) : null}
      <FormAlert error={error} />
      {passwords ? (
        <form class="auth-form" onSubmit={signInWithPassword}>
          <TextField
            id="login-email"
            label={t("auth.email")}
            type="email"
            name="email"
            autocomplete="username webauthn"
            required
            autoFocus
            value={email}
            onValue={setEmail}
          />
          <div class="field">
            <div class="label-row">
              <label for="login-password">{t("auth.password")}</label>
              {forgot ? (
                <Link href="/reset" class="small-link">
                  {t("auth.forgot_password")}
                </Link>
              ) : null}
            </div>
            <input
              id="login-password"
              type="password"
              name="password"
              autocomplete="current-password"
              required
              value={password}
              onInput={(event) => setPassword((event.target as HTMLInputElement).value)}
            />
          </div>
          <button type="submit" class="button wide" disabled={busy !== null}>
            {busy === "password" ? t("auth.signing_in") : t("auth.sign_in")}
          </button>
        </form>
      ) : null}
      {passkeysSupported() || sso ? (
        <>
          {passwords ? (
            <div class="divider" aria-hidden="true">
              <span>{t("auth.or")}</span>
            </div>
          ) : null}
          <div class="auth-alternatives">
            {passkeysSupported() ? (
              <button type="button" class="button secondary wide" onClick={usePasskey} disabled={busy !== null}>
                <KeyIcon />
                {busy === "passkey" ? t("auth.waiting_for_passkey") : t("auth.sign_in_with_passkey")}
              </button>
            ) : null}
            {sso ? (
              <a class="button secondary wide" href={SSO_PATH}>
                {t("auth.sign_in_with_sso", { name: sso })}
              </a>
            ) : null}
          </div>
        </>
      ) : null}
      {!passwords && !sso && !passkeysSupported() ? <p>{t("auth.no_way_to_sign_in")}</p> : null}
      <p class="auth-footer muted">
        <a href="/basic/login">{t("auth.basic_page")}</a>
      </p>
    </>
  );
}

function SecondStep({ challenge, next, onRestart }: { challenge: Challenge; next: string; onRestart: () => void }) {
  const hasCode = challenge.methods.includes("totp") || challenge.methods.includes("recovery_code");
  const hasPasskey = challenge.methods.includes("passkey") && passkeysSupported();
  const [code, setCode] = useState("");
  const [recovery, setRecovery] = useState(false);
  const [busy, setBusy] = useState<"code" | "passkey" | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [expired, setExpired] = useState(false);

  const fail = (failure: unknown) => {
    setError(errorText(failure));
    if (failure && typeof failure === "object" && "code" in failure && failure.code === "challenge_expired") setExpired(true);
  };

  const sendCode = async (event: Event) => {
    event.preventDefault();
    setBusy("code");
    setError(null);
    try {
      await post("/api/auth/login/second-factor", { challenge: challenge.challenge, code: code.trim() });
      done(next);
      return;
    } catch (failure) {
      fail(failure);
      setCode("");
    }
    setBusy(null);
  };

  const usePasskey = async () => {
    setBusy("passkey");
    setError(null);
    try {
      await secondFactorPasskey(challenge.challenge);
      done(next);
      return;
    } catch (failure) {
      if (!isCancelled(failure)) fail(failure);
    }
    setBusy(null);
  };

  // A passkey alone: ask for it at once.
  useEffect(() => {
    if (hasPasskey && !hasCode) void usePasskey();
  }, []);

  if (expired) {
    return (
      <>
        <p class="error" role="alert">
          {error}
        </p>
        <button type="button" class="button wide" onClick={onRestart}>
          {t("auth.start_again")}
        </button>
      </>
    );
  }

  return (
    <>
      <FormAlert error={error} />
      {hasCode ? (
        <form class="auth-form" onSubmit={sendCode}>
          <p>{recovery ? t("auth.recovery_code_intro") : t("auth.code_intro")}</p>
          <div class="field">
            <label for="login-code">{recovery ? t("auth.recovery_code") : t("auth.code")}</label>
            <input
              id="login-code"
              key={recovery ? "recovery" : "totp"}
              class={recovery ? "code-input recovery" : "code-input"}
              name="code"
              required
              autoFocus
              autocomplete="one-time-code"
              inputMode={recovery ? "text" : "numeric"}
              pattern={recovery ? undefined : "[0-9 ]{6,7}"}
              maxLength={recovery ? 40 : 7}
              spellcheck={false}
              value={code}
              onInput={(event) => setCode((event.target as HTMLInputElement).value)}
            />
          </div>
          <button type="submit" class="button wide" disabled={busy !== null}>
            {busy === "code" ? t("auth.checking") : t("auth.verify")}
          </button>
          <button
            type="button"
            class="link-button"
            onClick={() => {
              setRecovery(!recovery);
              setCode("");
              setError(null);
            }}
          >
            {recovery ? t("auth.use_app_code") : t("auth.use_recovery_code")}
          </button>
        </form>
      ) : null}
      {hasPasskey ? (
        <>
          {hasCode ? (
            <div class="divider" aria-hidden="true">
              <span>{t("auth.or")}</span>
            </div>
          ) : null}
          <button type="button" class={hasCode ? "button secondary wide" : "button wide"} onClick={usePasskey} disabled={busy !== null}>
            <KeyIcon />
            {busy === "passkey" ? t("auth.waiting_for_passkey") : t("auth.use_passkey")}
          </button>
        </>
      ) : null}
      {!hasCode && !hasPasskey ? <p>{t("auth.no_second_factor_here")}</p> : null}
      <p class="auth-footer">
        <button type="button" class="link-button" onClick={onRestart}>
          {t("auth.back_to_sign_in")}
        </button>
      </p>
    </>
  );
}

export function KeyIcon() {
  return (
    <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" class="icon">
      <circle cx="8" cy="12" r="4" fill="none" stroke="currentColor" stroke-width="2" />
      <path d="M12 12h9m-3 0v3m-3-3v2" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" />
    </svg>
  );
}
