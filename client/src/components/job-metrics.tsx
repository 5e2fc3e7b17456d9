// The job screen's curves: the chosen training metrics (the loss-like ones until the user picks), the GPUs' use and
// memory, and each metric's latest value; read again as metricsUpdated says points arrived.
import { For, Show, createMemo, createSignal } from 'solid-js';
import { createJobMetricNamesLive, createJobSeriesLive, createMetricsTick } from '../api/metrics';
import { chartedSeriesNames, defaultMetricNames, formatMetric, formatStep, gpuMetricNames, isLossLike, trainingMetricNames, type MetricPoint } from '../lib/metrics';
import { MetricChart, type ChartLine } from './metric-chart';

const MIB_PER_GIB = 1024;

const sameNames = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((name, index) => name === b[index]);

export function JobMetrics(props: { jobId: number; metricNames: readonly string[] }) {
  const live = createJobMetricNamesLive(() => props.jobId);
  // Kept while its content stays: the names read after the card's first render are usually the job's own, and a
  // new list would read the series again for nothing.
  const names = createMemo(() => [...new Set([...props.metricNames, ...(live.value()?.metricNames ?? [])])], [], { equals: sameNames });
  const training = createMemo(() => trainingMetricNames(names()));
  const gpus = createMemo(() => gpuMetricNames(names()));
  const [picked, setPicked] = createSignal<string[] | null>(null);
  const chosen = createMemo(() => picked()?.filter((name) => training().includes(name)) ?? defaultMetricNames(names()));
  const toggle = (name: string) => setPicked(chosen().includes(name) ? chosen().filter((entry) => entry !== name) : [...chosen(), name]);

  const tick = createMetricsTick(() => [props.jobId]);
  const wanted = createMemo(() => chartedSeriesNames(chosen(), names()));
  const series = createJobSeriesLive(() => props.jobId, wanted, tick);
  const byName = createMemo(() => new Map((series.value() ?? []).map((entry) => [entry.name, entry] as const)));
  const pointsOf = (name: string): readonly MetricPoint[] => byName().get(name)?.points ?? [];

  // Losses share one chart (train and validation side by side); every other metric has its own scale.
  const charts = createMemo(() => {
    const losses = chosen().filter(isLossLike);
    const others = chosen().filter((name) => !isLossLike(name));
    return [...(losses.length ? [{ title: losses.length === 1 ? losses[0]! : 'Loss', names: losses }] : []), ...others.map((name) => ({ title: name, names: [name] }))];
  });
  const memoryTotal = createMemo(() => {
    const totals = gpus().memoryTotal.map((entry) => pointsOf(entry.name).at(-1)?.value ?? 0);
    return totals.length ? Math.max(...totals) / MIB_PER_GIB : null;
  });
  const inGib = (points: readonly MetricPoint[]) => points.map((point) => ({ ...point, value: point.value === null ? null : point.value / MIB_PER_GIB }));
  const lastByName = createMemo(() => new Map((live.value()?.lastMetrics ?? []).map((entry) => [entry.name, entry] as const)));

  return (
    <Show when={names().length > 0}>
      <section class="card job-metrics" aria-labelledby="metrics-title" data-testid="job-metrics">
        <h2 id="metrics-title" class="section-title">
          Metrics
        </h2>
        {/* Laid out from the job's own metric names, a row per training metric with its value once read: nothing
            below moves when the values come. */}
        <Show when={training().length > 0}>
          <dl class="metric-last" data-testid="last-metrics">
            <For each={training()}>
              {(name) => (
                <div classList={{ 'metric-bad': !!lastByName().get(name)?.nonFinite }} data-metric={name}>
                  <dt>{name}</dt>
                  <dd>
                    <Show when={lastByName().get(name)} fallback={<span class="muted">…</span>}>
                      {(entry) => (
                        <>
                          <strong>{formatMetric(entry().value, entry().nonFinite)}</strong> <span class="muted">@ {formatStep(entry().step)}</span>
                        </>
                      )}
                    </Show>
                  </dd>
                </div>
              )}
            </For>
          </dl>
        </Show>
        <Show when={training().length > 1}>
          <div class="chips metric-picker" role="group" aria-label="Metrics to chart">
            <For each={training()}>
              {(name) => (
                <button type="button" class="chip" aria-pressed={chosen().includes(name)} data-metric={name} onClick={() => toggle(name)}>
                  {name}
                </button>
              )}
            </For>
          </div>
        </Show>
        <For each={charts()}>{(chart) => <MetricChart title={chart.title} testId={`chart-${chart.title}`} lines={chart.names.map((name): ChartLine => ({ label: name, points: pointsOf(name) }))} />}</For>
        <Show when={training().length > 0 && chosen().length === 0}>
          <p class="muted">Pick a metric above to chart it.</p>
        </Show>
        <Show when={gpus().utilization.length > 0}>
          <MetricChart title="GPU utilisation" testId="chart-gpu-utilization" xKind="time" unit="%" yRange={[0, 100]} height={140} lines={gpus().utilization.map((entry) => ({ label: entry.label, points: pointsOf(entry.name) }))} />
        </Show>
        <Show when={gpus().memoryUsed.length > 0}>
          <MetricChart
            title={memoryTotal() ? `GPU memory (of ${formatMetric(memoryTotal())} GiB)` : 'GPU memory'}
            testId="chart-gpu-memory"
            xKind="time"
            unit=" GiB"
            yRange={memoryTotal() ? [0, memoryTotal()!] : undefined}
            height={140}
            lines={gpus().memoryUsed.map((entry) => ({ label: entry.label, points: inGib(pointsOf(entry.name)) }))}
          />
        </Show>
      </section>
    </Show>
  );
}
