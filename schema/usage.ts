// Usage analytics: GPU-hours per week, outcomes and queue waits (server/usage/). Read-only tokens read them too.
import { ownerOf } from '../server/access/ownership.js';
import { ValidationError } from '../server/errors.js';
import { USAGE_GROUPS, USAGE_MAX_DAYS, type GpuHoursPoint, type OutcomeCount, type QueueWait, type SacctReadStatus, type Usage, type UsageGroup, type WaitStats } from '../server/usage/service.js';
import { builder } from './builder.js';
import { JobState } from './job.js';

const UsageGroupBy = builder.enumType('UsageGroupBy', { values: USAGE_GROUPS });

const GROUP_KEY = 'CLUSTER: the cluster; PROJECT: the project id (null: jobs launched elsewhere, read from sacct); GPU_TYPE: the type, "any" (GPUs of no named type) or "none" (no GPUs).';

const GpuHoursRef = builder.objectRef<GpuHoursPoint>('UsageGpuHours').implement({
  description: 'GPU-hours (GPUs × run time) of the jobs that started in one week, for one group. A job counts whole in the week it started; a running one up to now.',
  fields: (t) => ({
    week: t.expose('week', { type: 'DateTime', description: 'The Monday 00:00 UTC the week starts (ISO weeks).' }),
    key: t.exposeString('key', { nullable: true, description: GROUP_KEY }),
    gpuHours: t.exposeFloat('gpuHours'),
  }),
});

const OutcomeRef = builder.objectRef<OutcomeCount>('UsageOutcome').implement({
  description: 'Jobs that ended, counted in the week they started (or ended, when they never started), for one group, in one final state: COMPLETED is a success; FAILED an exit code other than 0; OUT_OF_MEMORY, TIMEOUT, CANCELLED, NODE_FAIL, PREEMPTED the other failure kinds.',
  fields: (t) => ({
    week: t.expose('week', { type: 'DateTime' }),
    key: t.exposeString('key', { nullable: true, description: GROUP_KEY }),
    state: t.field({ type: JobState, resolve: (count) => count.state }),
    jobs: t.exposeInt('jobs'),
  }),
});

const GroupRef = builder.objectRef<UsageGroup>('UsageGroup').implement({
  description: "One group's totals over the range.",
  fields: (t) => ({
    key: t.exposeString('key', { nullable: true, description: GROUP_KEY }),
    label: t.exposeString('label', { nullable: true, description: "For people: a project's name; otherwise the key." }),
    gpuHours: t.exposeFloat('gpuHours'),
    ended: t.exposeInt('ended', { description: 'Jobs that ended in the range.' }),
    completed: t.exposeInt('completed'),
    successRate: t.exposeFloat('successRate', { nullable: true, description: 'completed ÷ ended; null when none ended.' }),
  }),
});

const WaitStatsRef = builder.objectRef<WaitStats>('WaitStats').implement({
  description: 'Queue waits (start − submit) of the jobs that started in a window; nearest-rank percentiles, whole seconds.',
  fields: (t) => ({
    jobs: t.exposeInt('jobs'),
    medianSeconds: t.exposeInt('medianSeconds'),
    p90Seconds: t.exposeInt('p90Seconds'),
  }),
});

const QueueWaitRef = builder.objectRef<QueueWait>('QueueWait').implement({
  description: 'How long jobs waited in the queue, for one cluster, partition and GPU type (or all of them: null), in the 7 and 30 days before the end of the range.',
  fields: (t) => ({
    cluster: t.exposeString('cluster'),
    partition: t.exposeString('partition', { nullable: true, description: 'null: every partition of the cluster. A launch that named none is in the default partition.' }),
    gpuType: t.exposeString('gpuType', { nullable: true, description: 'A GPU type, "any" (GPUs of no named type), "none" (no GPUs); null: every job.' }),
    last7Days: t.expose('last7Days', { type: WaitStatsRef, nullable: true, description: 'null: no job started in the window.' }),
    last30Days: t.expose('last30Days', { type: WaitStatsRef, nullable: true }),
  }),
});

const SacctReadRef = builder.objectRef<SacctReadStatus>('SacctRead').implement({
  description: "A cluster's daily read of the user's jobs launched elsewhere (one sacct command).",
  fields: (t) => ({
    cluster: t.exposeString('cluster'),
    readAt: t.expose('readAt', { type: 'DateTime', nullable: true, description: 'The last read that succeeded; null: never.' }),
    attemptedAt: t.expose('attemptedAt', { type: 'DateTime' }),
    jobs: t.exposeInt('jobs', { description: 'Jobs launched elsewhere that the last read stored.' }),
    error: t.exposeString('error', { nullable: true, description: 'Why the last attempt failed (tried again within the hour); null when it succeeded.' }),
  }),
});

const UsageRef = builder.objectRef<Usage>('Usage').implement({
  description: 'Usage over a range, from our jobs and the jobs launched elsewhere that the daily sacct read found (a job that is both is counted once, as ours).',
  fields: (t) => ({
    from: t.expose('from', { type: 'DateTime' }),
    to: t.expose('to', { type: 'DateTime' }),
    groupBy: t.field({ type: UsageGroupBy, resolve: (usage) => usage.groupBy }),
    weeks: t.field({ type: ['DateTime'], description: 'Every week the range touches (its Monday 00:00 UTC), for a chart without gaps.', resolve: (usage) => usage.weeks }),
    gpuHours: t.field({ type: [GpuHoursRef], resolve: (usage) => usage.gpuHours }),
    outcomes: t.field({ type: [OutcomeRef], resolve: (usage) => usage.outcomes }),
    groups: t.field({ type: [GroupRef], description: 'Most GPU-hours first.', resolve: (usage) => usage.groups }),
    waits: t.field({ type: [QueueWaitRef], description: 'The wait table for the 7 and 30 days before `to`, by cluster, partition and GPU type, with each cluster\'s roll-ups.', resolve: (usage) => usage.waits }),
    sacctReads: t.field({ type: [SacctReadRef], resolve: (usage) => usage.reads }),
  }),
});

builder.queryFields((t) => ({
  usage: t.field({
    type: UsageRef,
    description: `GPU-hours, outcomes and queue waits in [from, to): at most ${USAGE_MAX_DAYS} days.`,
    errors: { types: [ValidationError] },
    args: {
      from: t.arg({ type: 'DateTime', required: true }),
      to: t.arg({ type: 'DateTime', required: true }),
      groupBy: t.arg({ type: UsageGroupBy, defaultValue: 'CLUSTER' }),
    },
    // A user's own jobs; an admin's answer counts everyone's.
    resolve: (_root, args, ctx) => ctx.services.usage.usage(ctx.em, { from: args.from, to: args.to, groupBy: args.groupBy ?? 'CLUSTER' }, ownerOf(ctx.session)),
  }),
  queueWaits: t.field({
    type: [QueueWaitRef],
    description: "The recent queue waits of every cluster, partition and GPU type (the launch form's hint beside each choice): one statement for all clusters, so a form asks once.",
    resolve: (_root, _args, ctx) => ctx.services.usage.queueWaits(ctx.em),
  }),
}));
