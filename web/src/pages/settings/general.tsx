// General: the domain, the time zone, the tracking snippet with the first-event check, the
// takeout of its events, its imported history, and removing the site.
import { useMemo, useState } from "preact/hooks";
import { TextField } from "../../components/fields";
import { ApiError, del, put, sitePath } from "../../lib/api";
import { t } from "../../lib/i18n";
import { navigate } from "../../lib/router";
import { allows, useSession } from "../../lib/session";
import { EXPORT_FORMATS, exportUrl, retentionChoice, retentionChoices, retentionDays, validRange, type ExportFormat } from "./export";
import { CardForm, codeOf, ConfirmDialog, FieldError, FormError, Saved, SectionHead, Submit, useAction, withCode } from "./forms";
import { timeZones, zoneLabel } from "./timezones";
import { ImportedHistory } from "./imports";
import { FirstHitCheck, TrackingSnippet } from "./tracking";
import type { SectionProps } from "./types";

export function GeneralSection({ site }: SectionProps) {
  return (
    <>
      <SectionHead title={t("settings.section_general")} />
      <SiteDetails site={site} />
      <div class="card settings-card">
        <h3>{t("settings.tracking_title")}</h3>
        <TrackingSnippet domain={site.domain} />
        <FirstHitCheck domain={site.domain} />
      </div>
      <ExportEvents domain={site.domain} />
      {allows(site.access, "manage") ? <ImportedHistory domain={site.domain} /> : null}
      {allows(site.access, "own") ? <DeleteSite domain={site.domain} /> : null}
    </>
  );
}

function SiteDetails({ site }: Pick<SectionProps, "site">) {
  const { reloadSites } = useSession();
  const [zone, setZone] = useState(site.timezone);
  const [retention, setRetention] = useState(retentionChoice(site.retention_days));
  const zones = useMemo(() => timeZones(site.timezone), [site.timezone]);
  const action = useAction();
  const canChange = allows(site.access, "manage");
  // The route arrives with a server that has it; an older one answers 404 or 405.
  const unsupported = action.error instanceof ApiError && (action.error.status === 404 || action.error.status === 405) && action.error.code !== "site_not_found";
  const zoneError = unsupported
    ? t("settings.timezone_unsupported")
    : codeOf(action.error, "invalid_timezone")
      ? withCode(action.error?.message ?? "", "invalid_timezone")
      : null;
  return (
    <CardForm
      title={t("settings.site_title")}
      onSubmit={async () => {
        const saved = await action.run(async () => {
          await put(sitePath(site.domain), { timezone: zone, retention_days: retentionDays(retention) });
          return true;
        });
        if (saved) await reloadSites();
      }}
    >
      <TextField id="settings-domain" label={t("settings.domain")} value={site.domain} readOnly hint={t("settings.domain_hint")} />
      <div class="field">
        <label for="settings-zone">{t("settings.timezone")}</label>
        <select
          id="settings-zone"
          value={zone}
          disabled={!canChange}
          aria-describedby="settings-zone-hint settings-zone-error"
          onChange={(event) => {
            setZone((event.target as HTMLSelectElement).value);
            action.reset();
          }}
        >
          {zones.map((name) => (
            <option value={name} key={name}>
              {zoneLabel(name)}
            </option>
          ))}
        </select>
        <span class="hint" id="settings-zone-hint">
          {t("settings.timezone_hint")}
        </span>
        <FieldError id="settings-zone-error">{zoneError}</FieldError>
      </div>
      <div class="field">
        <label for="settings-retention">{t("settings.retention")}</label>
        <select
          id="settings-retention"
          value={retention}
          disabled={!canChange}
          aria-describedby="settings-retention-hint"
          onChange={(event) => {
            setRetention((event.target as HTMLSelectElement).value);
            action.reset();
          }}
        >
          {retentionChoices(site.retention_days).map((choice) => (
            <option value={choice} key={choice}>
              {choice === "default" ? t("settings.retention_default") : choice === "0" ? t("settings.retention_forever") : t("settings.retention_days", { days: choice })}
            </option>
          ))}
        </select>
        <span class="hint" id="settings-retention-hint">
          {t("settings.retention_hint")}
        </span>
      </div>
      <FormError error={unsupported ? null : action.error} shown={["invalid_timezone"]} />
      {canChange ? (
        <div class="form-actions">
          <Submit busy={action.busy}>{t("common.save")}</Submit>
          <Saved show={action.done && zone === site.timezone && retention === retentionChoice(site.retention_days)} />
        </div>
      ) : null}
    </CardForm>
  );
}

/** The takeout: a format and optional days, downloaded by the browser from the API. */
function ExportEvents({ domain }: { domain: string }) {
  const [format, setFormat] = useState<ExportFormat>("parquet");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const valid = validRange(from, to);
  return (
    <div class="card settings-card">
      <h3>{t("settings.export_title")}</h3>
      <p>{t("settings.export_intro")}</p>
      <div class="export-fields">
        <div class="field">
          <label for="export-format">{t("settings.export_format")}</label>
          <select id="export-format" value={format} onChange={(event) => setFormat((event.target as HTMLSelectElement).value as ExportFormat)}>
            {EXPORT_FORMATS.map((name) => (
              <option value={name} key={name}>
                {t(`settings.export_format_${name}`)}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="export-from">{t("settings.export_from")}</label>
          <input id="export-from" type="date" value={from} onInput={(event) => setFrom((event.target as HTMLInputElement).value)} />
        </div>
        <div class="field">
          <label for="export-to">{t("settings.export_to")}</label>
          <input id="export-to" type="date" value={to} onInput={(event) => setTo((event.target as HTMLInputElement).value)} aria-describedby="export-range-error" />
          <FieldError id="export-range-error">{valid ? null : t("settings.export_range_invalid")}</FieldError>
        </div>
      </div>
      <p class="hint">{t("settings.export_hint")}</p>
      <div class="form-actions">
        {valid ? (
          <a class="button" id="export-download" href={exportUrl(domain, format, from, to)} download>
            {t("settings.export_button")}
          </a>
        ) : (
          <button type="button" class="button" disabled>
            {t("settings.export_button")}
          </button>
        )}
      </div>
    </div>
  );
}

function DeleteSite({ domain }: { domain: string }) {
  const { reloadSites } = useSession();
  const [asking, setAsking] = useState(false);
  return (
    <div class="card settings-card danger-zone">
      <h3>{t("settings.delete_title")}</h3>
      <p>{t("settings.delete_intro")}</p>
      <button type="button" class="button danger" onClick={() => setAsking(true)}>
        {t("settings.delete_button")}
      </button>
      {asking ? (
        <ConfirmDialog
          title={t("settings.delete_confirm_title", { domain })}
          confirmLabel={t("settings.delete_confirm")}
          typed={domain}
          onClose={() => setAsking(false)}
          onConfirm={async () => {
            await del(sitePath(domain));
            await reloadSites();
            navigate("/", { replace: true });
          }}
        >
          <p>{t("settings.delete_warning", { domain })}</p>
        </ConfirmDialog>
      ) : null}
    </div>
  );
}
