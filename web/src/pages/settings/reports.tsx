// Email reports: who gets the site's numbers by e-mail (daily, weekly or monthly) and who is
// told when its traffic spikes or drops. Both need the instance to send mail (its operator's
// smtp_host); without it, what exists is still listed but nothing can be added.
import { useState } from "preact/hooks";
import { TextField } from "../../components/fields";
import { ErrorMessage } from "../../components/status";
import { get, post, sitePath } from "../../lib/api";
import { currentLanguage, LANGUAGE_NAMES, LANGUAGES, t, type Language } from "../../lib/i18n";
import { useLoad } from "../../lib/stats";
import { useAuthStatus } from "../auth/status";
import { apiFieldError, codeOf, FormError, formatWhen, ItemRow, ListCard, RemoveDialog, Saved, SectionHead, Submit, useAction, withCode } from "./forms";
import {
  ALERT_KINDS,
  alertBody,
  alertProblems,
  DEFAULT_THRESHOLDS,
  describeAlert,
  FREQUENCIES,
  reportBody,
  THRESHOLD_BOUNDS,
  type Alert,
  type AlertKind,
  type Frequency,
  type ReportSubscription,
} from "./mailings";
import type { SectionProps } from "./types";

export function ReportsSection({ site }: SectionProps) {
  const status = useAuthStatus();
  // No form until the status answers, so none flashes up on an instance that sends no mail.
  const canSend = status.data?.email_enabled === true;
  return (
    <>
      <SectionHead title={t("settings.section_reports")} intro={t("settings.reports_intro")} />
      {status.error ? <ErrorMessage error={status.error} /> : null}
      {status.data && !status.data.email_enabled ? (
        <p class="mail-off" role="note">
          {t("settings.reports_no_mail")}
        </p>
      ) : null}
      <ReportsCard domain={site.domain} zone={site.timezone} canSend={canSend} />
      <AlertsCard domain={site.domain} canSend={canSend} />
    </>
  );
}

/** A list of `/api/sites/<domain><path>`, loaded again after `reload()`. */
function useMailings<T>(domain: string, path: string) {
  const [refresh, setRefresh] = useState(0);
  const loaded = useLoad(`${path}\n${domain}`, (signal) => get<T[]>(sitePath(domain, path), signal), refresh);
  return { loaded, reload: () => setRefresh((n) => n + 1) };
}

/** A labelled select of `options`, each shown as `text(option)`. */
function Choice<T extends string>({
  id,
  label,
  value,
  options,
  text,
  onChange,
}: {
  id: string;
  label: string;
  value: T;
  options: readonly T[];
  text: (option: T) => string;
  onChange: (value: T) => void;
}) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(event) => onChange((event.target as HTMLSelectElement).value as T)}>
        {options.map((option) => (
          <option value={option} key={option}>
            {text(option)}
          </option>
        ))}
      </select>
    </div>
  );
}

const languageName = (code: string) => LANGUAGE_NAMES[code as Language] ?? code;

function ReportsCard({ domain, zone, canSend }: { domain: string; zone: string; canSend: boolean }) {
  const { loaded, reload } = useMailings<ReportSubscription>(domain, "/reports");
  const [removing, setRemoving] = useState<ReportSubscription | null>(null);
  const lang = currentLanguage();
  return (
    <>
      <ListCard<ReportSubscription>
        title={t("settings.reports_title")}
        intro={t("settings.reports_when", { zone: zone.replace(/_/g, " ") })}
        load={loaded}
        none={t("settings.reports_none")}
        row={(report) => (
          <ItemRow key={report.id} name={report.email} removeLabel={t("settings.mailing_remove")} onRemove={() => setRemoving(report)}>
            <span class="item-detail">
              <span class="badge accent">{t(`settings.report_frequency_${report.frequency}`)}</span>
              <span class="badge">{languageName(report.language)}</span>
              <span class="muted small">{t("settings.created_on", { when: formatWhen(report.created_at_ms, lang) })}</span>
            </span>
          </ItemRow>
        )}
      >
        {canSend ? <AddReport domain={domain} onAdded={reload} /> : null}
      </ListCard>
      <RemoveDialog<ReportSubscription>
        item={removing}
        title={t("settings.report_remove_title")}
        confirmLabel={t("settings.mailing_remove")}
        path={(report) => sitePath(domain, `/reports/${report.id}`)}
        text={(report) => t("settings.report_remove_text", { email: report.email, frequency: t(`settings.report_frequency_${report.frequency}`) })}
        onClose={() => setRemoving(null)}
        onRemoved={reload}
      />
    </>
  );
}

function AddReport({ domain, onAdded }: { domain: string; onAdded: () => void }) {
  const [email, setEmail] = useState("");
  const [frequency, setFrequency] = useState<Frequency>("weekly");
  const [language, setLanguage] = useState<Language>(currentLanguage());
  const [checked, setChecked] = useState(false);
  const action = useAction();
  const body = reportBody({ email, frequency, language });
  const emailError =
    (checked && !body ? t("settings.mailing_email_invalid") : null) ??
    (codeOf(action.error, "mailing_exists") ? withCode(t("settings.report_exists"), "mailing_exists") : apiFieldError(action.error, "invalid_email"));
  const changed = () => {
    if (action.error) action.reset();
  };
  return (
    <form
      class="mailing-form"
      noValidate
      aria-labelledby="report-add-title"
      onSubmit={async (event) => {
        event.preventDefault();
        setChecked(true);
        if (!body) return;
        const added = await action.run(() => post<ReportSubscription>(sitePath(domain, "/reports"), body));
        if (!added) return;
        setEmail("");
        setChecked(false);
        onAdded();
      }}
    >
      <h4 id="report-add-title">{t("settings.report_add")}</h4>
      <div class="form-row">
        <TextField
          id="report-email"
          class="field grow"
          label={t("settings.mailing_email")}
          type="email"
          autoComplete="off"
          autoCapitalize="off"
          spellcheck={false}
          value={email}
          invalid={Boolean(emailError)}
          error={emailError}
          onValue={(value) => {
            setEmail(value);
            changed();
          }}
        />
        <Choice
          id="report-frequency"
          label={t("settings.report_frequency")}
          value={frequency}
          options={FREQUENCIES}
          text={(option) => t(`settings.report_frequency_${option}`)}
          onChange={(value) => {
            setFrequency(value);
            changed();
          }}
        />
        <Choice id="report-language" label={t("settings.mailing_language")} value={language} options={LANGUAGES} text={languageName} onChange={setLanguage} />
      </div>
      <FormError error={action.error} shown={["mailing_exists", "invalid_email"]} />
      <div class="form-actions">
        <Submit busy={action.busy}>{t("settings.report_add_submit")}</Submit>
        <Saved show={action.done}>{t("settings.report_added")}</Saved>
      </div>
    </form>
  );
}

function AlertsCard({ domain, canSend }: { domain: string; canSend: boolean }) {
  const { loaded, reload } = useMailings<Alert>(domain, "/alerts");
  const [removing, setRemoving] = useState<Alert | null>(null);
  const lang = currentLanguage();
  return (
    <>
      <ListCard<Alert>
        title={t("settings.alerts_title")}
        intro={t("settings.alerts_when")}
        load={loaded}
        none={t("settings.alerts_none")}
        row={(alert) => (
          <ItemRow key={alert.id} name={alert.email} removeLabel={t("settings.mailing_remove")} onRemove={() => setRemoving(alert)}>
            <span class="item-detail">
              <span>{describeAlert(alert)}</span>
              <span class="badge">{languageName(alert.language)}</span>
            </span>
            {alert.episode_start_ms !== null ? (
              <span class="episode-on">{t("settings.alert_episode", { when: formatWhen(alert.episode_start_ms, lang) })}</span>
            ) : (
              <span class="muted small">{t("settings.alert_quiet")}</span>
            )}
          </ItemRow>
        )}
      >
        {canSend ? <AddAlert domain={domain} onAdded={reload} /> : null}
      </ListCard>
      <RemoveDialog<Alert>
        item={removing}
        title={t("settings.alert_remove_title")}
        confirmLabel={t("settings.mailing_remove")}
        path={(alert) => sitePath(domain, `/alerts/${alert.id}`)}
        text={(alert) => t("settings.alert_remove_text", { email: alert.email, condition: describeAlert(alert) })}
        onClose={() => setRemoving(null)}
        onRemoved={reload}
      />
    </>
  );
}

function AddAlert({ domain, onAdded }: { domain: string; onAdded: () => void }) {
  const [email, setEmail] = useState("");
  const [kind, setKind] = useState<AlertKind>("visitors_above");
  // Each kind keeps what was typed for it: visitors and percentages are different numbers.
  const [thresholds, setThresholds] = useState(DEFAULT_THRESHOLDS);
  const [language, setLanguage] = useState<Language>(currentLanguage());
  const [checked, setChecked] = useState(false);
  const action = useAction();
  const draft = { email, kind, threshold: thresholds[kind], language };
  const problems = alertProblems(draft);
  const { min, max } = THRESHOLD_BOUNDS[kind];
  const emailError =
    (checked && problems.email ? t("settings.mailing_email_invalid") : null) ??
    (codeOf(action.error, "mailing_exists") ? withCode(t("settings.alert_exists"), "mailing_exists") : apiFieldError(action.error, "invalid_email"));
  const thresholdError = (checked && problems.threshold ? t("settings.alert_threshold_invalid", { min, max }) : null) ?? apiFieldError(action.error, "invalid_alert");
  const changed = () => {
    if (action.error) action.reset();
  };
  return (
    <form
      class="mailing-form"
      noValidate
      aria-labelledby="alert-add-title"
      onSubmit={async (event) => {
        event.preventDefault();
        setChecked(true);
        const body = alertBody(draft);
        if (!body) return;
        const added = await action.run(() => post<Alert>(sitePath(domain, "/alerts"), body));
        if (!added) return;
        setEmail("");
        setChecked(false);
        onAdded();
      }}
    >
      <h4 id="alert-add-title">{t("settings.alert_add")}</h4>
      <Choice
        id="alert-kind"
        label={t("settings.alert_kind")}
        value={kind}
        options={ALERT_KINDS}
        text={(option) => t(`settings.alert_kind_${option}`)}
        onChange={(value) => {
          setKind(value);
          changed();
        }}
      />
      <TextField
        id="alert-threshold"
        class="field narrow-field"
        label={t(`settings.alert_threshold_${kind}`)}
        type="number"
        inputMode="numeric"
        min={min}
        max={max}
        step={1}
        value={thresholds[kind]}
        hint={t(`settings.alert_threshold_hint_${kind}`, { min, max })}
        invalid={Boolean(thresholdError)}
        error={thresholdError}
        onValue={(value) => {
          setThresholds((before) => ({ ...before, [kind]: value }));
          changed();
        }}
      />
      <div class="form-row">
        <TextField
          id="alert-email"
          class="field grow"
          label={t("settings.mailing_email")}
          type="email"
          autoComplete="off"
          autoCapitalize="off"
          spellcheck={false}
          value={email}
          invalid={Boolean(emailError)}
          error={emailError}
          onValue={(value) => {
            setEmail(value);
            changed();
          }}
        />
        <Choice id="alert-language" label={t("settings.mailing_language")} value={language} options={LANGUAGES} text={languageName} onChange={setLanguage} />
      </div>
      <FormError error={action.error} shown={["mailing_exists", "invalid_email", "invalid_alert"]} />
      <div class="form-actions">
        <Submit busy={action.busy}>{t("settings.alert_add_submit")}</Submit>
        <Saved show={action.done}>{t("settings.alert_added")}</Saved>
      </div>
    </form>
  );
}
