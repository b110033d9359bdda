// The locations panel's map tab: asks the visitors by country at once, while the map's code
// (d3-geo, topojson, the world's shapes: its own chunk) loads beside it.
import { useEffect } from "preact/hooks";
import { lazy } from "../../../components/lazy";
import { ErrorMessage } from "../../../components/status";
import { t } from "../../../lib/i18n";
import type { DashboardProps } from "../context";
import type { ReportDef } from "./catalogue";
import { Skeleton, useReport } from "./report";

const WorldMap = lazy(() => import("./map").then((module) => module.WorldMap));

/** Countries a map asks for: every one there is. */
const MAP_ROWS = 300;

export function MapTab({ report, view, onDetails }: { report: ReportDef; view: DashboardProps; onDetails: () => void }) {
  const { answer } = useReport(report, view, report.metrics, { limit: MAP_ROWS });
  // The map's code downloads while its data is asked for, not after.
  useEffect(() => {
    void import("./map");
  }, []);
  const data = answer.data;
  return (
    <>
      <div class="map-frame">
        {answer.error && !answer.loading ? (
          <ErrorMessage error={answer.error} />
        ) : !data ? (
          <Skeleton />
        ) : data.results.length === 0 ? (
          <p class="report-empty muted">{t("panels.empty")}</p>
        ) : (
          <WorldMap answer={data} report={report} view={view} />
        )}
      </div>
      <div class="report-foot">
        {data && data.results.length > 0 ? (
          <button type="button" class="button ghost small report-details" onClick={onDetails}>
            {t("panels.details")}
            <span aria-hidden="true"> →</span>
          </button>
        ) : null}
      </div>
    </>
  );
}

