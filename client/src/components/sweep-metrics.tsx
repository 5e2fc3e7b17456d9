// A sweep's chart: one metric of every task on one chart, the best run highlighted (lowest for losses, highest
// otherwise, the other way on a tap), and a line that names it.
import { Show, createMemo } from 'solid-js';
import type { SweepTaskSeries } from '../api/metrics';
import { formatMetric, formatStep, seriesStats, type Direction } from '../lib/metrics';
import { MetricChart, type ChartLine } from './metric-chart';

/** Up to this many runs each get their own colour; beyond, all but the best are grey. */
const COLOURED_RUNS = 6;

export function SweepMetricChart(props: {
  metric: string;
  names: readonly string[];
  onMetric: (name: string) => void;
  direction: Direction;
  onDirection: (direction: Direction) => void;
  series: readonly SweepTaskSeries[];
  best: number | null;
  runLabel: (index: number) => string;
}) {
  const lines = createMemo(() => {
    const many = props.series.length > COLOURED_RUNS;
    // The best run last, so it is drawn over the others.
    const ordered = [...props.series].sort((a, b) => Number(a.index === props.best) - Number(b.index === props.best) || a.index - b.index);
    return ordered.map((entry): ChartLine => ({ label: props.runLabel(entry.index), points: entry.series.points, emphasis: entry.index === props.best, dim: many && entry.index !== props.best }));
  });
  const bestText = createMemo(() => {
    const entry = props.series.find((candidate) => candidate.index === props.best);
    const best = entry && seriesStats(entry.series.points, props.direction).best;
    return best ? `${props.runLabel(entry.index)}: ${formatMetric(best.value)} at step ${formatStep(best.step)}` : null;
  });

  return (
    <section class="card sweep-metrics" aria-labelledby="sweep-metrics-title" data-testid="sweep-metrics">
      <h2 id="sweep-metrics-title" class="section-title">
        Metrics
      </h2>
      <div class="sweep-metric-controls">
        <label class="sweep-metric-picker">
          <span>Metric</span>
          <select value={props.metric} onChange={(event) => props.onMetric(event.currentTarget.value)} data-testid="sweep-metric">
            {props.names.map((name) => (
              <option value={name}>{name}</option>
            ))}
          </select>
        </label>
        <button type="button" class="button small" onClick={() => props.onDirection(props.direction === 'min' ? 'max' : 'min')} data-testid="sweep-direction">
          Best is {props.direction === 'min' ? 'lowest' : 'highest'}
          <span class="visually-hidden"> (tap for {props.direction === 'min' ? 'highest' : 'lowest'})</span>
        </button>
      </div>
      <p class="sweep-best" data-testid="sweep-best">
        <Show when={bestText()} fallback={<span class="muted">No run has a value of {props.metric} yet.</span>}>
          Best: <strong>{bestText()}</strong>
        </Show>
      </p>
      <MetricChart title={`${props.metric} of ${props.series.length} runs`} testId="sweep-chart" lines={lines()} />
      <Show when={props.series.length > COLOURED_RUNS}>
        <p class="muted">The best run in colour, the others in grey.</p>
      </Show>
    </section>
  );
}
