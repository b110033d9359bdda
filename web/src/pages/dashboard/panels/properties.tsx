// The goals panel's properties tab: the custom events (of the goal or event filtered on, or
// all) broken down by the values of one property key. The keys come from the site's
// property-keys route (those of the filtered events), else from its goals' property
// conditions; any key can be typed.
import { useState } from "preact/hooks";
import { ApiError, get, post, sitePath } from "../../../lib/api";
import { apiFilters, filteredValue } from "../../../lib/dashboard-state";
import { t } from "../../../lib/i18n";
import { useLoad } from "../../../lib/stats";
import type { DashboardProps } from "../context";
import { PROPS_TAB, panelRange, propertyKeyOf, propertyReport, withTab, type ReportDef } from "./catalogue";
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

/**
 * Keys the events of the view's range and filters carry, most used first
 * (`POST /api/sites/{d}/property-keys`); where the route is missing (404) or refuses, the
 * keys of the site's goals' property conditions; [] when none is known.
 */
function useKeys(view: DashboardProps): string[] {
  const domain = view.site.domain;
  const body = { date_range: panelRange(view.state, view.today), filters: apiFilters(view.state.filters) };
  const listed = useLoad(
    `${domain}\n${JSON.stringify(body)}`,
    async (signal) => {
      try {
        const keys = await post<PropertyKey[]>(sitePath(domain, "/property-keys"), body, signal);
        if (Array.isArray(keys)) return keys.map((item) => item.key);
      } catch (error) {
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
