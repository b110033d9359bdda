// The breakdown panels of a site's dashboard, in a grid: pages, sources, locations, devices,
// and goals (goals, custom events, properties, funnels). Each panel shows one tab (kept in
// the URL) and asks one query for it, all at once when the view changes; details, other tabs,
// the map's code and the funnels load only when shown.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { lazy } from "../../../components/lazy";
import { t } from "../../../lib/i18n";
import type { DashboardProps } from "../context";
import {
  FUNNELS_TAB,
  PANEL_TABS,
  PROPS_TAB,
  UTM_TABS,
  propertyKeyOf,
  reportOf,
  resolveReport,
  tabOf,
  withTab,
  type PanelName,
  type ReportDef,
} from "./catalogue";
import { Report, Skeleton } from "./report";
import { PropertiesTab } from "./properties";
import { FunnelsTab } from "./funnels";
import { MapTab } from "./map-tab";
import { moveBetweenTabs } from "./tabs";
import "./panels.css";

const Details = lazy(() => import("./details").then((module) => module.Details));

/** The breakdown panels of a site's dashboard (pages, sources, locations, devices, goals, funnels). */
export function Panels(props: DashboardProps) {
  return (
    <div class="panels">
      <ReportPanel name="pages" view={props} />
      <ReportPanel name="sources" view={props} />
      <ReportPanel name="locations" view={props} />
      <ReportPanel name="devices" view={props} />
      <ReportPanel name="goals" view={props} wide />
    </div>
  );
}

/** The tabs a panel's bar shows: the campaign parameters fold into one "Campaigns" tab. */
function barTabs(name: PanelName): string[] {
  const tabs = PANEL_TABS[name].tabs;
  if (name !== "sources") return tabs;
  return [...tabs.filter((tab) => !(UTM_TABS as readonly string[]).includes(tab)), "campaigns"];
}

function isSelected(bar: string, tab: string): boolean {
  if (bar === "campaigns") return (UTM_TABS as readonly string[]).includes(tab);
  if (bar === PROPS_TAB) return tab === PROPS_TAB || tab.startsWith(`${PROPS_TAB}:`);
  return bar === tab;
}

/** The heading of a panel's report: its title, or the filter it drills into. */
function titleOf(report: ReportDef | undefined, tab: string): string {
  if (report?.drilledFrom) {
    const key = report.dimension === "visit:referrer" ? "panels.title_referrers_of" : "panels.title_versions_of";
    return t(key, { value: report.drilledFrom.value === "" ? t("panels.direct") : report.drilledFrom.value });
  }
  const key = propertyKeyOf(tab);
  if (key) return t("panels.title_property", { key });
  if (tab === PROPS_TAB) return t("panels.title_props");
  if ((UTM_TABS as readonly string[]).includes(tab)) return t("panels.title_campaigns");
  return t(`panels.title_${tab}`);
}

function ReportPanel({ name, view, wide }: { name: PanelName; view: DashboardProps; wide?: boolean }) {
  const tab = tabOf(view.state, name);
  const fixed = reportOf(name, tab);
  const report = fixed ? resolveReport(fixed, view.state) : undefined;
  const [details, setDetails] = useState<ReportDef | null>(null);
  const choose = (next: string) => view.update(withTab(view.state, name, next));
  const id = `panel-${name}`;
  return (
    <section class={wide ? "card panel wide" : "card panel"} aria-labelledby={`${id}-title`}>
      <header class="card-head panel-head">
        <h2 id={`${id}-title`}>{titleOf(report, tab)}</h2>
        <div class="tabs" role="tablist" aria-label={t(`panels.panel_${name}`)} onKeyDown={moveBetweenTabs}>
          {barTabs(name).map((bar) => (
            <button
              type="button"
              role="tab"
              key={bar}
              aria-selected={isSelected(bar, tab)}
              aria-controls={`${id}-body`}
              onClick={() => {
                if (isSelected(bar, tab)) return;
                choose(bar === "campaigns" ? UTM_TABS[0] : bar);
              }}
            >
              {t(`panels.tab_${bar}`)}
            </button>
          ))}
        </div>
      </header>
      <div class="panel-body" id={`${id}-body`} role="tabpanel" aria-labelledby={`${id}-title`}>
        {(UTM_TABS as readonly string[]).includes(tab) ? <SubTabs tabs={UTM_TABS} tab={tab} onChoose={choose} label={t("panels.title_campaigns")} /> : null}
        <PanelBody name={name} tab={tab} report={report} view={view} onDetails={setDetails} />
      </div>
      {details ? <Details report={details} view={view} title={titleOf(details, details.tab)} onClose={() => setDetails(null)} /> : null}
    </section>
  );
}

function PanelBody({
  name,
  tab,
  report,
  view,
  onDetails,
}: {
  name: PanelName;
  tab: string;
  report: ReportDef | undefined;
  view: DashboardProps;
  onDetails: (report: ReportDef) => void;
}): ComponentChildren {
  if (name === "locations" && tab === "map" && report) {
    // The map's details are the countries' table.
    const countries = reportOf("locations", "countries");
    return <MapTab report={report} view={view} onDetails={() => countries && onDetails(countries)} />;
  }
  if (name === "goals" && (tab === PROPS_TAB || tab.startsWith(`${PROPS_TAB}:`))) {
    return <PropertiesTab tab={tab} view={view} onDetails={onDetails} />;
  }
  if (name === "goals" && tab === FUNNELS_TAB) return <FunnelsTab view={view} />;
  if (!report) return <Skeleton />;
  // A new key per report: a tab's rows never show under another tab's heading.
  return <Report key={`${report.dimension}\n${report.prefix ?? ""}`} report={report} view={view} onDetails={() => onDetails(report)} />;
}

/** A second row of tabs (the campaign parameters). */
export function SubTabs({ tabs, tab, onChoose, label }: { tabs: readonly string[]; tab: string; onChoose: (tab: string) => void; label: string }) {
  return (
    <div class="tabs sub-tabs" role="tablist" aria-label={label} onKeyDown={moveBetweenTabs}>
      {tabs.map((item) => (
        <button type="button" role="tab" key={item} aria-selected={item === tab} onClick={() => onChoose(item)}>
          {t(`panels.tab_${item}`)}
        </button>
      ))}
    </div>
  );
}
