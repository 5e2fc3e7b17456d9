import { filter, pipe } from 'graphql-yoga';
import { Job as JobEntity, type Job as JobRow } from '../server/db/entities.js';
import type { MetricSeries as MetricSeriesValue, MetricValue as MetricValueType } from '../server/metrics/service.js';
import { builder, SHARED_DELIVERY } from './builder.js';
import { Job } from './job.js';
import { Sweep } from './sweep.js';

/** How many points a series may be asked for at most (a chart is a few hundred pixels wide). */
const MAX_POINTS = 5000;
const pointsWanted = (maxPoints: number | null | undefined) => Math.min(Math.max(maxPoints ?? 500, 2), MAX_POINTS);

const finite = (value: number) => (Number.isFinite(value) ? value : null);
const nonFinite = (value: number) => (Number.isNaN(value) ? 'NaN' : value === Infinity ? 'Infinity' : value === -Infinity ? '-Infinity' : null);

export const MetricValue = builder.objectRef<MetricValueType>('MetricValue').implement({
  description: 'One value of a metric at a step.',
  fields: (t) => ({
    name: t.exposeString('name'),
    step: t.exposeFloat('step', { description: "The source's own step, global_step or epoch; else the order it was read in." }),
    value: t.float({ nullable: true, description: 'null when the value is NaN or infinite (see nonFinite): JSON has no such numbers.', resolve: (point) => finite(point.value) }),
    nonFinite: t.string({ nullable: true, description: '"NaN", "Infinity" or "-Infinity" when the value is one of them, else null.', resolve: (point) => nonFinite(point.value) }),
    time: t.expose('time', { type: 'DateTime', description: "The source's own time when it has one (TensorBoard wall time, a time column), else when the server read it." }),
  }),
});

export const MetricSeries = builder.objectRef<MetricSeriesValue>('MetricSeries').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    total: t.exposeInt('total', { description: 'Points the run wrote (a series keeps at most 20,000, thinning its oldest half); `points` keeps the shape of the line in at most maxPoints (largest-triangle-three-buckets over a summary of the series; its lowest and highest value and its NaN and infinities always kept).' }),
    min: t.exposeFloat('min', { nullable: true, description: 'The lowest finite value the run wrote (also among `points`); null when none is finite.' }),
    max: t.exposeFloat('max', { nullable: true, description: 'The highest finite value the run wrote (also among `points`); null when none is finite.' }),
    points: t.field({ type: [MetricValue], resolve: (series) => series.points }),
  }),
});

builder.objectFields(Job, (t) => ({
  metricNames: t.stringList({
    description: "Names of the metrics read from the job's log, its metric files and its GPU sampler (`gpu0.utilization`…).",
    resolve: (job, _args, ctx) => ctx.services.metrics.names(ctx.em, job.id),
  }),
  lastMetrics: t.field({
    type: [MetricValue],
    description: 'The latest value of each metric (at its highest step).',
    resolve: async (job, _args, ctx) => (await ctx.services.metrics.last(ctx.em, [job.id])).get(job.id) ?? [],
  }),
  metrics: t.field({
    type: [MetricSeries],
    description: `Series of the named metrics (all when omitted), each downsampled on the server to at most maxPoints (2 to ${MAX_POINTS}).`,
    args: { names: t.arg.stringList(), maxPoints: t.arg.int({ defaultValue: 500 }) },
    resolve: (job, args, ctx) => ctx.services.metrics.series(ctx.em, job.id, args.names ?? null, pointsWanted(args.maxPoints)),
  }),
}));

const SweepTaskSeries = builder.objectRef<{ index: number; task: JobRow; series: MetricSeriesValue }>('SweepTaskSeries').implement({
  fields: (t) => ({
    index: t.exposeInt('index', { description: "The run's index in the sweep." }),
    task: t.field({ type: Job, resolve: (entry) => entry.task }),
    series: t.field({ type: MetricSeries, resolve: (entry) => entry.series }),
  }),
});

builder.objectField(Sweep, 'metricNames', (t) =>
  t.stringList({ description: 'The metric names of all its tasks.', resolve: (sweep, _args, ctx) => ctx.services.metrics.sweepNames(ctx.em, sweep.id) }),
);

builder.objectField(Sweep, 'metrics', (t) =>
  t.field({
    type: [SweepTaskSeries],
    description: 'One metric across every current task of the sweep, each downsampled to maxPoints.',
    args: { name: t.arg.string({ required: true }), maxPoints: t.arg.int({ defaultValue: 200 }) },
    resolve: async (sweep, args, ctx) => {
      const runs = await ctx.services.sweeps.runs(ctx.em, await ctx.services.sweeps.get(ctx.em, sweep.id));
      const entries = [];
      for (const { index, task } of runs) {
        if (!task) continue;
        const [series] = await ctx.services.metrics.series(ctx.em, task.id, [args.name], pointsWanted(args.maxPoints));
        entries.push({ index, task, series: series! });
      }
      return entries;
    },
  }),
);

const MetricsUpdate = builder.objectRef<{ jobId: number; names: string[] }>('MetricsUpdate').implement({
  fields: (t) => ({
    jobId: t.exposeInt('jobId'),
    names: t.exposeStringList('names', { description: 'The metrics that got new points.' }),
    lastMetrics: t.field({
      type: [MetricValue],
      description: 'The latest value of each metric of the job.',
      resolve: async (update, _args, ctx) => (await ctx.services.metrics.last(ctx.em, [update.jobId])).get(update.jobId) ?? [],
    }),
  }),
});

builder.subscriptionFields((t) => ({
  metricsUpdated: t.field({
    extensions: { [SHARED_DELIVERY]: true },
    type: MetricsUpdate,
    description: 'New points of these jobs\' metrics, at most once a second per job; read the series again (Job.metrics) for the points.',
    args: { jobIds: t.arg.intList({ required: true }) },
    subscribe: async (_root, args, ctx) => {
      // Only the asked jobs this session may read (the request's reads are its own: server/access/ownership.ts).
      const visible = new Set((await ctx.em.find(JobEntity, { id: { $in: args.jobIds } }, { fields: ['id'] })).map((job) => job.id));
      return pipe(ctx.services.events.subscribe('metrics:updated'), filter((update) => visible.has(update.jobId)));
    },
    resolve: (update) => update,
  }),
}));
