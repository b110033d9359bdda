// The goals panel's properties tab: the custom events (of the goal or event filtered on, or
// all) broken down by the values of one property key. The keys come from the site's
// property-keys route, else from its goals' property conditions; any key can be typed.
import { useState } from "preact/hooks";
import { ApiError, get, sitePath } from "../../../lib/api";
import { dateRange, filteredValue } from "../../../lib/dashboard-state";
import { t } from "../../../lib/i18n";
import { useLoad } from "../../../lib/stats";
import type { DashboardProps } from "../context";
import { PROPS_TAB, propertyKeyOf, propertyReport, withTab, type ReportDef } from "./catalogue";
import { Report } from "./report";
import { moveBetweenTabs } from "./tabs";

interface PropertyKey {
  key: string;
  events?: number;
}

interface GoalAnswer {
  kind: string;
  props?: Record<string, string>;
}

/** Keys the site's events carry in the view's range, most used first; [] when unknown. */
function useKeys(view: DashboardProps): string[] {
  const range = dateRange(view.state, view.today);
  const param = typeof range === "string" ? range : range.join(",");
  const domain = view.site.domain;
  const listed = useLoad(
    `${domain}\n${param}`,
    async (signal) => {
      try {
        const keys = await get<PropertyKey[]>(sitePath(domain, `/property-keys?date_range=${encodeURIComponent(param)}`), signal);
        if (Array.isArray(keys) && keys.length > 0) return keys.map((item) => item.key);
      } catch (error) {
        // An instance without the route (404) or a refusal: the goals' keys still help.
        if (!(error instanceof ApiError)) throw error;
      }
      const goals = await get<GoalAnswer[]>(sitePath(domain, "/goals"), signal);
      return [...new Set(goals.flatMap((goal) => Object.keys(goal.props ?? {})))].sort();
    },
    view.refresh,
  );
  return listed.data ?? [];
}

export function PropertiesTab({ tab, view, onDetails }: { tab: string; view: DashboardProps; onDetails: (report: ReportDef) => void }) {
  const keys = useKeys(view);
  const chosen = propertyKeyOf(tab) ?? keys[0] ?? null;
  const [typed, setTyped] = useState("");
  const choose = (key: string) => view.update(withTab(view.state, "goals", key ? `${PROPS_TAB}:${key}` : PROPS_TAB));
  const of = filteredValue(view.state, "event:goal") ?? filteredValue(view.state, "event:name");
  const shown = chosen && !keys.includes(chosen) ? [chosen, ...keys] : keys;
  return (
    <div class="properties">
      <div class="properties-bar">
        {shown.length > 0 ? (
          <div class="tabs sub-tabs" role="tablist" aria-label={t("panels.property_keys")} onKeyDown={moveBetweenTabs}>
            {shown.slice(0, 8).map((key) => (
              <button type="button" role="tab" key={key} aria-selected={key === chosen} onClick={() => choose(key)}>
                {key}
              </button>
            ))}
          </div>
        ) : null}
        <form
          class="properties-form"
          onSubmit={(event) => {
            event.preventDefault();
            const key = typed.trim();
            if (key) {
              choose(key);
              setTyped("");
            }
          }}
        >
          <label class="visually-hidden" for="panel-property-key">
            {t("panels.property_key")}
          </label>
          <input
            id="panel-property-key"
            type="text"
            list="panel-property-keys"
            value={typed}
            placeholder={t("panels.property_placeholder")}
            maxLength={300}
            autoComplete="off"
            onInput={(event) => setTyped((event.target as HTMLInputElement).value)}
          />
          <datalist id="panel-property-keys">
            {keys.map((key) => (
              <option value={key} key={key} />
            ))}
          </datalist>
          <button type="submit" class="button secondary small">
            {t("panels.property_show")}
          </button>
        </form>
      </div>
      <p class="properties-of muted">{of ? t("panels.properties_of", { name: of }) : t("panels.properties_of_all")}</p>
      {chosen ? (
        <Report key={chosen} report={propertyReport(chosen)} view={view} onDetails={() => onDetails(propertyReport(chosen))} />
      ) : (
        <p class="report-empty muted">{t("panels.property_none")}</p>
      )}
    </div>
  );
}
