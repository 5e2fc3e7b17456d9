// Training curves, pure: which metrics a screen shows first, which way is better for a metric, how several series
// with their own steps become one chart's columns (NaN and infinities as gaps, remembered for their markers), the
// best run of a sweep, and the numbers as a phone can fit them.

/** A point as the API gives it: `value` is null when it is NaN or infinite, and `nonFinite` says which. */
export interface MetricPoint {
  step: number;
  value: number | null;
  nonFinite: string | null;
}

export interface SeriesLike {
  name: string;
  total: number;
  points: readonly MetricPoint[];
}

// ---- names --------------------------------------------------------------------------------------------------

/** GPU sampler series: `gpu0.utilization`, `gpu0.memory_used_mib`, `gpu0.memory_total_mib`, `node/`-prefixed on several nodes. */
const GPU_METRIC = /^(?:(.+)\/)?gpu(\d+)\.(utilization|memory_used_mib|memory_total_mib)$/;

export const isGpuMetric = (name: string) => GPU_METRIC.test(name);

// Lower is better for losses and errors; everything else (accuracy, F1, BLEU, reward…) is better higher.
const LOWER_IS_BETTER = /loss|error|(^|[_./-])err($|[_./-])|perplexity|(^|[_./-])ppl($|[_./-])|(^|[_./-])(r?mse|mae|wer|cer|nll)($|[_./-])/i;

export type Direction = 'min' | 'max';

/** Which way a metric improves, from its name: min for losses and errors, max otherwise. */
export const betterDirection = (name: string): Direction => (LOWER_IS_BETTER.test(name) ? 'min' : 'max');

export const isLossLike = (name: string) => /loss/i.test(name);

// Written out rather than through Intl (Collator, NumberFormat): the first Intl object of a page loads ICU's data,
// 16-30 ms on a desktop (about four times that on a phone), and this module loads with the job screen, whose
// first render it lengthened by that much. Names sort case-blind, numbers within them by value (gpu2 before gpu10).
function byName(a: string, b: string): number {
  const left = a.toLowerCase().match(/\d+|\D+/g) ?? [];
  const right = b.toLowerCase().match(/\d+|\D+/g) ?? [];
  for (let index = 0; index < Math.min(left.length, right.length); index++) {
    const [x, y] = [left[index]!, right[index]!];
    if (x === y) continue;
    if (/^\d/.test(x) && /^\d/.test(y) && Number(x) !== Number(y)) return Number(x) - Number(y);
    return x < y ? -1 : 1;
  }
  // Names equal but for case: lower case first, as Intl.Collator orders them.
  return left.length - right.length || (a > b ? -1 : a < b ? 1 : 0);
}

/** The training metrics (not the GPU sampler's), losses first, then by name. */
export function trainingMetricNames(names: readonly string[]): string[] {
  return names.filter((name) => !isGpuMetric(name)).sort((a, b) => Number(isLossLike(b)) - Number(isLossLike(a)) || byName(a, b));
}

/** What a job's charts show before the user picks: its loss-like metrics (at most `limit`), else its first metric. */
export function defaultMetricNames(names: readonly string[], limit = 3): string[] {
  const training = trainingMetricNames(names);
  const losses = training.filter(isLossLike);
  return losses.length > 0 ? losses.slice(0, limit) : training.slice(0, 1);
}

export interface GpuSeriesName {
  name: string;
  /** `GPU 0`, or `gpu-a100 GPU 0` on several nodes. */
  label: string;
}

/** The GPU series of a job, per kind, in GPU order (node, then index). */
export function gpuMetricNames(names: readonly string[]): { utilization: GpuSeriesName[]; memoryUsed: GpuSeriesName[]; memoryTotal: GpuSeriesName[] } {
  const parsed = names.flatMap((name) => {
    const match = GPU_METRIC.exec(name);
    return match ? [{ name, node: match[1] ?? '', index: Number(match[2]), kind: match[3]! }] : [];
  });
  parsed.sort((a, b) => byName(a.node, b.node) || a.index - b.index);
  const of = (kind: string) => parsed.filter((entry) => entry.kind === kind).map((entry) => ({ name: entry.name, label: `${entry.node ? `${entry.node} ` : ''}GPU ${entry.index}` }));
  return { utilization: of('utilization'), memoryUsed: of('memory_used_mib'), memoryTotal: of('memory_total_mib') };
}

/** Every series the job screen reads for the chosen metrics: those, then each GPU's utilisation, memory used and total. */
export function chartedSeriesNames(chosen: readonly string[], names: readonly string[]): string[] {
  const gpus = gpuMetricNames(names);
  return [...chosen, ...[...gpus.utilization, ...gpus.memoryUsed, ...gpus.memoryTotal].map((entry) => entry.name)];
}

// ---- chart columns ------------------------------------------------------------------------------------------

export interface NonFiniteMark {
  /** Which series (its position in the list given). */
  series: number;
  step: number;
  kind: string;
}

/**
 * One chart's columns: every step of every series in order, and for each series its value at each step. A step
 * a series has no point at is `undefined` (the chart joins its line over it), a NaN or infinity is `null` (a gap),
 * and is listed in `marks` for its marker. Of two points at one step, the one read last counts.
 */
export function alignSeries(series: readonly { points: readonly MetricPoint[] }[]): { steps: number[]; values: Array<Array<number | null | undefined>>; marks: NonFiniteMark[] } {
  const steps = [...new Set(series.flatMap((entry) => entry.points.map((point) => point.step)))].sort((a, b) => a - b);
  const position = new Map(steps.map((step, index) => [step, index]));
  const marks: NonFiniteMark[] = [];
  const values = series.map((entry, index) => {
    const column: Array<number | null | undefined> = new Array(steps.length).fill(undefined);
    for (const point of entry.points) {
      const finite = point.value !== null && Number.isFinite(point.value);
      column[position.get(point.step)!] = finite ? point.value : null;
    }
    // Marks from the final column (a NaN replaced at the same step leaves none), named by the point read last.
    const lastAt = new Map(entry.points.map((point) => [point.step, point]));
    for (const [step, point] of lastAt) if (column[position.get(step)!] === null) marks.push({ series: index, step, kind: point.nonFinite ?? 'NaN' });
    return column;
  });
  return { steps, values, marks };
}

export interface SeriesStats {
  last: MetricPoint | null;
  /** The best finite value in the given direction, and its step. */
  best: { value: number; step: number } | null;
  nonFinite: number;
  firstNonFinite: MetricPoint | null;
}

export function seriesStats(points: readonly MetricPoint[], direction: Direction): SeriesStats {
  let best: SeriesStats['best'] = null;
  let nonFinite = 0;
  let firstNonFinite: MetricPoint | null = null;
  let last: MetricPoint | null = null;
  for (const point of points) {
    if (!last || point.step >= last.step) last = point;
    if (point.value === null || !Number.isFinite(point.value)) {
      nonFinite++;
      if (!firstNonFinite || point.step < firstNonFinite.step) firstNonFinite = point;
      continue;
    }
    if (!best || (direction === 'min' ? point.value < best.value : point.value > best.value)) best = { value: point.value, step: point.step };
  }
  return { last, best, nonFinite, firstNonFinite };
}

/** The index of the run with the best value of the metric (ties: the lower index), or null when none has one. */
export function bestRun(runs: readonly { index: number; points: readonly MetricPoint[] }[], direction: Direction): number | null {
  let winner: { index: number; value: number } | null = null;
  for (const run of runs) {
    const best = seriesStats(run.points, direction).best;
    if (!best) continue;
    const better = !winner || (direction === 'min' ? best.value < winner.value : best.value > winner.value) || (best.value === winner.value && run.index < winner.index);
    if (better) winner = { index: run.index, value: best.value };
  }
  return winner?.index ?? null;
}

/** Each run's last value of a metric (null when it is NaN or infinite) and its best finite value, by run index. */
export function runMetricValues(runs: readonly { index: number; points: readonly MetricPoint[] }[], direction: Direction): Map<number, { last: number | null; best: number | null }> {
  return new Map(
    runs.map((run) => {
      const stats = seriesStats(run.points, direction);
      return [run.index, { last: stats.last?.value ?? null, best: stats.best?.value ?? null }];
    }),
  );
}

// ---- words and numbers --------------------------------------------------------------------------------------

/** An integer with thousands separators (12,000), without Intl (see byName). */
const grouped = (value: number) => String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** A metric's value in a few characters: 4 significant digits, an exponent for very small or very large values. */
export function formatMetric(value: number | null | undefined, nonFinite?: string | null): string {
  if (value === null || value === undefined) return nonFinite ?? '—';
  if (!Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1e6 || magnitude < 1e-3) return value.toExponential(2).replace('e+', 'e');
  if (Number.isInteger(value)) return grouped(value);
  return String(Number(value.toPrecision(4)));
}

/** A step as people read it: 1,200 (not 1200), and a fractional epoch as it is. */
export const formatStep = (step: number) => (Number.isInteger(step) ? grouped(step) : String(Number(step.toPrecision(6))));

/** "loss is NaN at step 1,200", "+ 2 more" when more points are not finite; null when every point is. */
export function nonFiniteNote(name: string, points: readonly MetricPoint[]): string | null {
  const stats = seriesStats(points, 'min');
  if (!stats.firstNonFinite) return null;
  const more = stats.nonFinite - 1;
  return `${name} is ${stats.firstNonFinite.nonFinite ?? 'NaN'} at step ${formatStep(stats.firstNonFinite.step)}${more > 0 ? ` (and ${more} more point${more === 1 ? '' : 's'})` : ''}`;
}

/** What a chart shows, in one sentence for a screen reader: the series, their ranges and last values. */
export function chartSummary(title: string, series: readonly { label: string; points: readonly MetricPoint[] }[]): string {
  const withPoints = series.filter((entry) => entry.points.length > 0);
  if (withPoints.length === 0) return `${title}: no points yet`;
  let first = Infinity;
  let last = -Infinity;
  for (const entry of withPoints) for (const point of entry.points) (first = Math.min(first, point.step)), (last = Math.max(last, point.step));
  const parts = withPoints.slice(0, 6).map((entry) => {
    const last = seriesStats(entry.points, 'min').last!;
    return `${entry.label} ${formatMetric(last.value, last.nonFinite)}`;
  });
  const more = withPoints.length > 6 ? `, and ${withPoints.length - 6} more` : '';
  return `${title}, steps ${formatStep(first)} to ${formatStep(last)}; last values: ${parts.join(', ')}${more}`;
}
