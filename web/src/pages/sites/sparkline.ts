// The sites list's tiny charts: visitors per bucket drawn as one SVG path, no chart library.

export interface SparklineGeometry {
  /** The line through every point (`M x,y L x,y ...`); empty for no values. */
  line: string;
  /** The line closed along the bottom edge, for a soft fill below it. */
  area: string;
  /** The largest value (0 when all are 0 or missing). */
  max: number;
}

const round = (value: number) => Math.round(value * 100) / 100;

/**
 * The path of `values` (missing ones count as 0) in a `width` × `height` box, `pad` pixels
 * inside its top and bottom so a stroke is never cut. An all-zero series lies flat on the
 * bottom; a single value is a flat line across the whole width.
 */
export function sparklinePath(values: readonly (number | null | undefined)[], width: number, height: number, pad = 1.5): SparklineGeometry {
  if (values.length === 0) return { line: "", area: "", max: 0 };
  const numbers = values.map((value) => (typeof value === "number" && Number.isFinite(value) && value > 0 ? value : 0));
  const max = Math.max(...numbers);
  const bottom = height - pad;
  const span = height - 2 * pad;
  const y = (value: number) => round(max === 0 ? bottom : pad + (1 - value / max) * span);
  const points: [number, number][] =
    numbers.length === 1
      ? [
          [0, y(numbers[0])],
          [width, y(numbers[0])],
        ]
      : numbers.map((value, index) => [round((index / (numbers.length - 1)) * width), y(value)]);
  const line = points.map(([x, yy], index) => `${index === 0 ? "M" : "L"}${x},${yy}`).join(" ");
  const area = `${line} L${points[points.length - 1][0]},${height} L${points[0][0]},${height} Z`;
  return { line, area, max };
}

/**
 * The values of a time series answer in the order of its buckets: `labels` (the answer's
 * `meta.time_labels`) with the rows' values by label, 0 for a bucket without a row.
 */
export function seriesOf(labels: readonly string[], rows: readonly { dimensions: unknown[]; metrics: unknown[] }[]): number[] {
  const byLabel = new Map<string, number>();
  for (const row of rows) {
    const value = Number(row.metrics[0]);
    byLabel.set(String(row.dimensions[0]), Number.isFinite(value) ? value : 0);
  }
  if (labels.length === 0) return rows.map((row) => byLabel.get(String(row.dimensions[0])) ?? 0);
  return labels.map((label) => byLabel.get(label) ?? 0);
}

/**
 * The last `count` buckets of a series. A rolling range ("24h") starts within an hour, so its
 * first bucket holds only that hour's last minutes; drawn, it would dip for no reason.
 */
export function lastBuckets<T>(values: readonly T[], count: number): T[] {
  return values.length > count ? values.slice(values.length - count) : [...values];
}
