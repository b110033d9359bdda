// The world map of the locations panel (its own chunk): countries shaded by visitors, the
// country and its visitors on hover or focus, a click (or Enter) filters by it. The shapes
// are world-atlas's 1:110m countries, drawn once with d3-geo's Equal Earth projection; a
// feature's ISO numeric id becomes the API's alpha-2 code through countries-numeric.ts.
import { geoEqualEarth, geoPath, type GeoPath } from "d3-geo";
import type { Feature, Geometry, Polygon } from "geojson";
import { feature } from "topojson-client";
import type { GeometryCollection, Topology } from "topojson-specification";
import world from "world-atlas/countries-110m.json";
import { useMemo, useState } from "preact/hooks";
import { currentLanguage, t } from "../../../lib/i18n";
import { formatMetric, metricNumber } from "../../../lib/format";
import type { StatsAnswer } from "../../../lib/stats";
import type { DashboardProps } from "../context";
import { isRowFiltered, rowFilter, toggleRowFilter, type ReportDef } from "./catalogue";
import { alpha2OfNumeric, countryName, flagEmoji } from "./countries";
import { shadeOf } from "./rows";

const WIDTH = 960;
const HEIGHT = 470;

interface Shape {
  code: string;
  path: string;
  centroid: [number, number];
}

/** The countries' outlines as SVG paths, computed once per page. */
const SHAPES: Shape[] = (() => {
  const topology = world as unknown as Topology<{ countries: GeometryCollection<{ name: string }> }>;
  const collection = feature(topology, topology.objects.countries);
  // Antarctica has no visitors and would take a fifth of the height.
  const features = collection.features.filter((shape) => shape.id !== "010");
  const projection = geoEqualEarth().fitExtent(
    [
      [4, 4],
      [WIDTH - 4, HEIGHT - 4],
    ],
    { type: "FeatureCollection", features },
  );
  const draw = geoPath(projection);
  const shapes: Shape[] = [];
  for (const shape of features) {
    const code = alpha2OfNumeric(shape.id as string | undefined);
    const path = draw(shape);
    if (!code || !path) continue;
    shapes.push({ code, path, centroid: mainCentroid(shape, draw) });
  }
  return shapes;
})();

/** The centre of a country's biggest piece (France's, not midway to French Guiana). */
function mainCentroid(shape: Feature<Geometry | null>, draw: GeoPath): [number, number] {
  const geometry = shape.geometry;
  if (geometry?.type !== "MultiPolygon") return draw.centroid(shape) as [number, number];
  let best: Polygon | null = null;
  let bestArea = -1;
  for (const coordinates of geometry.coordinates) {
    const piece: Polygon = { type: "Polygon", coordinates };
    const area = draw.area(piece);
    if (area > bestArea) {
      best = piece;
      bestArea = area;
    }
  }
  return draw.centroid(best ?? shape) as [number, number];
}

const CODES = new Set(SHAPES.map((shape) => shape.code));

export function WorldMap({ answer, report, view }: { answer: StatsAnswer; report: ReportDef; view: DashboardProps }) {
  const lang = currentLanguage();
  const visitors = useMemo(() => {
    const byCode = new Map<string, number>();
    for (const result of answer.results) {
      const code = result.dimensions[0];
      const value = metricNumber(result.metrics[0]);
      if (typeof code === "string" && value !== null) byCode.set(code.toUpperCase(), value);
    }
    return byCode;
  }, [answer]);
  const max = Math.max(0, ...visitors.values());
  const [hover, setHover] = useState<{ code: string; x: number; y: number } | null>(null);

  const choose = (code: string) => {
    const filter = rowFilter(report, code);
    if (filter) view.update(toggleRowFilter(view.state, filter));
  };
  const listed = answer.results
    .map((result) => String(result.dimensions[0] ?? ""))
    .filter((code) => /^[A-Z]{2}$/i.test(code));
  const hovered = hover ? SHAPES.find((shape) => shape.code === hover.code) : undefined;
  const metric = report.metrics[0];

  return (
    <div class="world-map" onMouseLeave={() => setHover(null)}>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={t("panels.map_label")}>
        {SHAPES.map((shape) => {
          const value = visitors.get(shape.code) ?? 0;
          const filtered = isRowFiltered(view.state, rowFilter(report, shape.code));
          return (
            <path
              key={shape.code}
              data-code={shape.code}
              d={shape.path}
              class={`map-country${value > 0 ? " has-visitors" : ""}${filtered ? " filtered" : ""}${hover?.code === shape.code ? " hovered" : ""}`}
              style={value > 0 ? { fillOpacity: shadeOf(value, max) } : undefined}
              onMouseMove={(event) => {
                const box = (event.currentTarget.ownerSVGElement as SVGSVGElement).getBoundingClientRect();
                setHover({ code: shape.code, x: ((event.clientX - box.left) / box.width) * 100, y: ((event.clientY - box.top) / box.height) * 100 });
              }}
              onClick={() => (value > 0 ? choose(shape.code) : undefined)}
            />
          );
        })}
        {hovered ? <path d={hovered.path} class="map-outline" aria-hidden="true" /> : null}
      </svg>
      {hover ? (
        <div class="map-tooltip" style={{ left: `${hover.x}%`, top: `${hover.y}%` }} aria-hidden="true">
          <strong>
            {flagEmoji(hover.code)} {countryName(hover.code, lang)}
          </strong>
          <span>
            {formatMetric(metric, visitors.get(hover.code) ?? 0)} {t(`metrics.name_${metric}`).toLowerCase()}
          </span>
        </div>
      ) : null}
      <div class="map-legend" aria-hidden="true">
        <span>0</span>
        <span class="map-scale" />
        <span>{formatMetric(metric, max, { compact: true })}</span>
      </div>
      {/* The keyboard's way in: a button per country with visitors, shown when focused. */}
      <ul class="map-list" aria-label={t("panels.map_list")}>
        {listed.map((code) => {
          const shape = SHAPES.find((item) => item.code === code.toUpperCase());
          const filtered = isRowFiltered(view.state, rowFilter(report, code));
          return (
            <li key={code}>
              <button
                type="button"
                aria-pressed={filtered}
                onFocus={() =>
                  setHover(shape ? { code: shape.code, x: (shape.centroid[0] / WIDTH) * 100, y: (shape.centroid[1] / HEIGHT) * 100 } : null)
                }
                onBlur={() => setHover(null)}
                onClick={() => choose(code)}
              >
                {flagEmoji(code)} {countryName(code, lang)}: {formatMetric(metric, visitors.get(code.toUpperCase()) ?? 0)}{" "}
                {t(`metrics.name_${metric}`).toLowerCase()}
                {CODES.has(code.toUpperCase()) ? "" : ` (${t("panels.map_not_drawn")})`}
                <span class="visually-hidden"> {t("panels.filter_action")}</span>
              </button>
            </li>
          );
        })}
      </ul>
    </div>
  );
}
