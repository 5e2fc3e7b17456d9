// Training curves: a job's metric names and latest values (kept current by metricsUpdated), its series downsampled
// on the server, a sweep's one metric across its tasks, and several jobs for a comparison. The subscription only
// says that points arrived: the series are read again, at most once per READ_AGAIN_MS per screen.
import { createEffect, createMemo, createSignal, on, onCleanup } from 'solid-js';
import { query, subscribe, unwrap } from './client';
import { FailureFields, graphql, type ResultOf } from './graphql';
import { fetchJob, type JobDetail } from './jobs';
import { createLive } from './live';

/** How many points a chart asks for: a phone's chart is about 320 px wide; a wide screen's about 500. */
export const CHART_POINTS = 500;
/** A sweep's chart draws a line per task: fewer points each. */
export const SWEEP_CHART_POINTS = 200;
/** Series are read again at most this often while points keep arriving (metricsUpdated comes once a second per job). */
const READ_AGAIN_MS = 2000;

export const MetricValueFields = graphql(`
  fragment MetricValue on MetricValue @_unmask { name step value nonFinite time }
`);

const SeriesFields = graphql(`
  fragment MetricSeriesPoints on MetricSeries @_unmask { name total points { step value nonFinite } }
`);

const JOB_METRIC_NAMES = graphql(
  `
  query JobMetricNames($id: Int!) {
    job(id: $id) { __typename ... on QueryJobSuccess { data { id metricNames lastMetrics { ...MetricValue } } } ...Failure }
  }
`,
  [MetricValueFields, FailureFields],
);
const JOB_METRICS = graphql(
  `
  query JobMetrics($id: Int!, $names: [String!], $maxPoints: Int) {
    job(id: $id) { __typename ... on QueryJobSuccess { data { id metrics(names: $names, maxPoints: $maxPoints) { ...MetricSeriesPoints } } } ...Failure }
  }
`,
  [SeriesFields, FailureFields],
);
const SWEEP_METRICS = graphql(
  `
  query SweepMetrics($id: Int!, $name: String!, $maxPoints: Int) {
    sweep(id: $id) {
      __typename
      ... on QuerySweepSuccess { data { id metrics(name: $name, maxPoints: $maxPoints) { index task { id state } series { ...MetricSeriesPoints } } } }
      ...Failure
    }
  }
`,
  [SeriesFields, FailureFields],
);
const METRICS_UPDATED = graphql(
  `
  subscription MetricsUpdated($jobIds: [Int!]!) { metricsUpdated(jobIds: $jobIds) { jobId names lastMetrics { ...MetricValue } } }
`,
  [MetricValueFields],
);

export type MetricValue = ResultOf<typeof MetricValueFields>;
export type MetricSeries = ResultOf<typeof SeriesFields>;
export type JobMetricsSummary = Extract<ResultOf<typeof JOB_METRIC_NAMES>['job'], { __typename: 'QueryJobSuccess' }>['data'];
export type SweepTaskSeries = Extract<ResultOf<typeof SWEEP_METRICS>['sweep'], { __typename: 'QuerySweepSuccess' }>['data']['metrics'][number];
export type MetricsUpdate = ResultOf<typeof METRICS_UPDATED>['metricsUpdated'];

export async function fetchJobMetricNames(id: number): Promise<JobMetricsSummary> {
  return unwrap((await query(JOB_METRIC_NAMES, { id })).job, 'QueryJobSuccess');
}

export async function fetchJobMetrics(id: number, names: readonly string[] | null, maxPoints = CHART_POINTS): Promise<MetricSeries[]> {
  return unwrap((await query(JOB_METRICS, { id, names: names ? [...names] : null, maxPoints })).job, 'QueryJobSuccess').metrics;
}

export async function fetchSweepMetrics(id: number, name: string, maxPoints = SWEEP_CHART_POINTS): Promise<SweepTaskSeries[]> {
  return unwrap((await query(SWEEP_METRICS, { id, name, maxPoints })).sweep, 'QuerySweepSuccess').metrics;
}

/** New points of these jobs (an empty list subscribes to nothing). */
export function onMetricsUpdated(jobIds: readonly number[], handler: (update: MetricsUpdate) => void): () => void {
  if (jobIds.length === 0) return () => undefined;
  return subscribe(METRICS_UPDATED, { jobIds: [...jobIds] }, (data) => handler(data.metricsUpdated));
}

/**
 * A counter bumped after metricsUpdated of the given jobs, at most once per READ_AGAIN_MS (the first at once, the
 * last of a burst never lost): a screen reads its series again on it. The subscription follows the jobs' list (a
 * sweep's running tasks).
 */
export function createMetricsTick(jobIds: () => readonly number[], onUpdate?: (update: MetricsUpdate) => void): () => number {
  const [tick, setTick] = createSignal(0);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastAt = 0;
  const bump = () => {
    timer = undefined;
    lastAt = Date.now();
    setTick((value) => value + 1);
  };
  const followed = createMemo(() => [...new Set(jobIds())].sort((a, b) => a - b).join(','));
  createEffect(
    on(followed, (key) => {
      const stop = onMetricsUpdated(key ? key.split(',').map(Number) : [], (update) => {
        onUpdate?.(update);
        timer ??= setTimeout(bump, Math.max(0, lastAt + READ_AGAIN_MS - Date.now()));
      });
      onCleanup(stop);
    }),
  );
  onCleanup(() => clearTimeout(timer));
  return tick;
}

/** Reads a live value again on every tick after the first, keeping what it shows until the answer comes. */
export function refetchOn(tick: () => number, live: { refetch: () => Promise<void> }): void {
  createEffect(on(tick, () => void live.refetch(), { defer: true }));
}

/** A job's metric names and latest values, kept current by metricsUpdated. */
export function createJobMetricNamesLive(id: () => number | null) {
  return createLive<JobMetricsSummary>({
    key: () => id() !== null && `job-metric-names:${id()}`,
    load: () => fetchJobMetricNames(id()!),
    live: (update) => {
      const jobId = id();
      if (jobId === null) return;
      return onMetricsUpdated([jobId], (changed) =>
        update((current) => ({ ...current, metricNames: [...new Set([...current.metricNames, ...changed.names])], lastMetrics: changed.lastMetrics })),
      );
    },
  });
}

/** Some of a job's series, read again on every tick (createMetricsTick). */
export function createJobSeriesLive(id: () => number | null, names: () => readonly string[], tick: () => number) {
  const live = createLive<MetricSeries[]>({
    key: () => id() !== null && names().length > 0 && `job-series:${id()}:${names().join('\u0000')}`,
    load: () => fetchJobMetrics(id()!, names()),
    itemKey: 'name',
  });
  refetchOn(tick, live);
  return live;
}

/** The jobs of a comparison, with their settings and metric names (JobDetail), in the order asked. */
export function fetchComparedJobs(ids: readonly number[]): Promise<JobDetail[]> {
  return Promise.all(ids.map(fetchJob));
}

/** One metric of each job (a job without it gives an empty series). */
export async function fetchComparedSeries(ids: readonly number[], name: string): Promise<MetricSeries[]> {
  return Promise.all(ids.map(async (id) => (await fetchJobMetrics(id, [name]))[0] ?? { name, total: 0, points: [] }));
}

/** The metrics a sweep's tasks write, read from a few of its started tasks (they run the same code). */
export async function fetchSweepMetricNames(taskIds: readonly number[]): Promise<string[]> {
  const answers = await Promise.all(taskIds.map((id) => fetchJobMetricNames(id).catch(() => null)));
  return [...new Set(answers.flatMap((answer) => answer?.metricNames ?? []))];
}
