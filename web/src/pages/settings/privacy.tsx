// Privacy: whose visits count. Do Not Track and Global Privacy Control, and the addresses,
// paths and host names whose hits are dropped (or the only host names that count).
import { useState } from "preact/hooks";
import { ApiError, put, sitePath } from "../../lib/api";
import { t } from "../../lib/i18n";
import { useSession } from "../../lib/session";
import { FieldError, FormError, Saved, SectionHead, Submit, useAction, withCode } from "./forms";
import { rulesOf, type SectionProps } from "./types";
import { invalidEntries, isHostnamePattern, isIpRange, isPathPattern, linesOf, ruleFieldOf } from "./validate";

type ListField = "excluded_ip_ranges" | "excluded_paths" | "allowed_hostnames";

const LISTS: { field: ListField; check: (entry: string) => boolean; placeholder: string }[] = [
  { field: "excluded_ip_ranges", check: isIpRange, placeholder: "203.0.113.7\n10.0.0.0/8\n2001:db8::/32" },
  { field: "excluded_paths", check: isPathPattern, placeholder: "/admin/**\n/preview/*" },
  { field: "allowed_hostnames", check: isHostnamePattern, placeholder: "example.com\n*.example.com" },
];

export function PrivacySection({ site }: SectionProps) {
  const { reloadSites } = useSession();
  const initial = rulesOf(site);
  const [dnt, setDnt] = useState(initial.honor_dnt);
  const [gpc, setGpc] = useState(initial.honor_gpc);
  const [lists, setLists] = useState<Record<ListField, string>>({
    excluded_ip_ranges: initial.excluded_ip_ranges.join("\n"),
    excluded_paths: initial.excluded_paths.join("\n"),
    allowed_hostnames: initial.allowed_hostnames.join("\n"),
  });
  const [checked, setChecked] = useState(false);
  const action = useAction();
  const invalid = Object.fromEntries(LISTS.map(({ field, check }) => [field, invalidEntries(linesOf(lists[field]), check)])) as Record<ListField, string[]>;
  const apiField = action.error instanceof ApiError && action.error.code === "invalid_rule" ? ruleFieldOf(action.error.message) : null;

  const fieldError = (field: ListField) => {
    if (apiField === field && action.error) return withCode(action.error.message, "invalid_rule");
    if (checked && invalid[field].length > 0) return t(`settings.privacy_invalid_${field}`, { entries: invalid[field].join(", ") });
    return null;
  };

  return (
    <>
      <SectionHead title={t("settings.section_privacy")} intro={t("settings.privacy_intro")} />
      <form
        class="card settings-card"
        onSubmit={async (event) => {
          event.preventDefault();
          setChecked(true);
          if (LISTS.some(({ field }) => invalid[field].length > 0)) return;
          const body = {
            honor_dnt: dnt,
            honor_gpc: gpc,
            excluded_ip_ranges: linesOf(lists.excluded_ip_ranges),
            excluded_paths: linesOf(lists.excluded_paths),
            allowed_hostnames: linesOf(lists.allowed_hostnames),
          };
          const saved = await action.run(async () => {
            await put(sitePath(site.domain, "/rules"), body);
            return true;
          });
          if (saved) await reloadSites();
        }}
      >
        <fieldset class="toggles">
          <legend>{t("settings.privacy_signals")}</legend>
          <Toggle id="rule-dnt" checked={dnt} onChange={setDnt} label={t("settings.honor_dnt")} hint={t("settings.honor_dnt_hint")} />
          <Toggle id="rule-gpc" checked={gpc} onChange={setGpc} label={t("settings.honor_gpc")} hint={t("settings.honor_gpc_hint")} />
        </fieldset>
        {LISTS.map(({ field, placeholder }) => {
          const error = fieldError(field);
          return (
            <div class="field" key={field}>
              <label for={`rule-${field}`}>{t(`settings.${field}`)}</label>
              <textarea
                id={`rule-${field}`}
                rows={4}
                spellcheck={false}
                autoCapitalize="off"
                placeholder={placeholder}
                value={lists[field]}
                aria-invalid={Boolean(error)}
                aria-describedby={`rule-${field}-hint rule-${field}-error`}
                onInput={(event) => {
                  const value = (event.target as HTMLTextAreaElement).value;
                  setLists((before) => ({ ...before, [field]: value }));
                  if (action.error) action.reset();
                }}
              />
              <span class="hint" id={`rule-${field}-hint`}>
                {t(`settings.${field}_hint`)}
              </span>
              <FieldError id={`rule-${field}-error`}>{error}</FieldError>
            </div>
          );
        })}
        <FormError error={apiField ? null : action.error} />
        <div class="form-actions">
          <Submit busy={action.busy}>{t("common.save")}</Submit>
          <Saved show={action.done} />
        </div>
      </form>
    </>
  );
}

function Toggle({ id, checked, onChange, label, hint }: { id: string; checked: boolean; onChange: (value: boolean) => void; label: string; hint: string }) {
  return (
    <div class="toggle-row">
      <input id={id} type="checkbox" role="switch" class="switch" checked={checked} aria-describedby={`${id}-hint`} onChange={(event) => onChange((event.target as HTMLInputElement).checked)} />
      <div>
        <label for={id}>{label}</label>
        <span class="hint block" id={`${id}-hint`}>
          {hint}
        </span>
      </div>
    </div>
  );
}
