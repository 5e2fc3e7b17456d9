import { GraphQLError } from 'graphql';
import { filter, pipe } from 'graphql-yoga';
import { assertMaySteerId, owns } from '../server/access/ownership.js';
import { Project as ProjectEntity, Sweep as SweepEntity, type Job as JobRow, type Sweep as SweepRow } from '../server/db/entities.js';
import { LaunchNotRecordedError, NotFoundError, SweepAlreadySubmittedError, ValidationError } from '../server/errors.js';
import type { SweepSnapshot } from '../server/events.js';
import type { SweepPreview as SweepPreviewValue } from '../server/sweeps/service.js';
import { SWEEP_STATES, sweepState } from '../server/sweeps/state.js';
import { builder, SHARED_DELIVERY } from './builder.js';
import { Preflight, requesterOf } from './preflight.js';
import { clusterErrors } from './errors.js';
import { Job, JobInput, JobInputFields, JobState, PageInfo, launchErrors, toJobInput } from './job.js';
import { Project } from './project.js';

export const SweepState = builder.enumType('SweepState', {
  description: "From its tasks: SUBMITTING, PENDING (none started), RUNNING, then COMPLETED (every task), COMPLETED_WITH_FAILURES, FAILED (none completed) or CANCELLED (the rest completed). A failed task never shows as COMPLETED.",
  values: SWEEP_STATES,
});

const StateCount = builder.objectRef<{ state: string; count: number }>('StateCount').implement({
  fields: (t) => ({
    state: t.field({ type: JobState, resolve: (entry) => entry.state as never }),
    count: t.exposeInt('count'),
  }),
});

const SweepRunRef = builder.objectRef<{ index: number; overrides: string[]; values: string[]; task: JobRow | null }>('SweepRun').implement({
  description: "One run: its sweep values and its current task (a relaunch's, once failed tasks were relaunched).",
  fields: (t) => ({
    index: t.exposeInt('index', { description: "Its index in the job array ($SLURM_ARRAY_TASK_ID)." }),
    overrides: t.exposeStringList('overrides', { description: 'Every key of the sweep with this run\'s value: `seed=1`, `model=vit`.' }),
    values: t.exposeStringList('values', { description: 'The values of Sweep.varying, in that order: the columns of the sweep\'s table.' }),
    task: t.field({ type: Job, nullable: true, resolve: (run) => run.task }),
  }),
});

/** The value of `key` in a run's overrides (`model=vit` → `vit`). */
function valueOf(overrides: string[], key: string): string {
  const found = overrides.find((override) => override.startsWith(`${key}=`));
  return found === undefined ? '' : found.slice(key.length + 1);
}

export const Sweep = builder.objectRef<SweepRow | SweepSnapshot>('Sweep').implement({
  description: 'A Hydra multirun launched as one SLURM job array; each run is a task, a Job with sweepId and arrayIndex.',
  fields: (t) => ({
    id: t.exposeInt('id'),
    tag: t.exposeString('tag', { description: 'The tag of its first submission: its directory on the cluster.' }),
    projectId: t.exposeInt('projectId'),
    project: t.field({ type: Project, resolve: (sweep, _args, ctx) => ctx.services.projects.get(ctx.em, sweep.projectId, { includeDeleted: true }) }),
    cluster: t.exposeString('cluster'),
    name: t.exposeString('name'),
    commitSha: t.exposeString('commitSha'),
    input: t.field({ type: JobInputFields, description: 'The settings every run shares; with `definition`, what cloning the sweep feeds back.', resolve: (sweep) => sweep.input }),
    definition: t.exposeStringList('definition', { description: 'The sweep overrides as given (`seed=1,2,3`).' }),
    varying: t.exposeStringList('varying', { description: 'Keys whose value differs between runs.' }),
    size: t.exposeInt('size', { description: 'How many runs.' }),
    throttle: t.exposeInt('throttle', { description: 'How many tasks may run at once.' }),
    arrayJobId: t.exposeString('arrayJobId', { nullable: true, description: "SLURM's id of the job array (of the first submission; a relaunch has its own, in its tasks' slurmJobId)." }),
    retries: t.exposeInt('retries', { description: 'How many times failed tasks were relaunched.' }),
    state: t.field({ type: SweepState, resolve: (sweep) => sweepState(sweep.counts) }),
    counts: t.field({
      type: [StateCount],
      description: 'Its current tasks by state (per index, the newest task).',
      resolve: (sweep) => Object.entries(sweep.counts).map(([state, count]) => ({ state, count: count ?? 0 })),
    }),
    archived: t.exposeBoolean('archived'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    endedAt: t.expose('endedAt', { type: 'DateTime', nullable: true, description: 'When its last task ended; null while any runs or waits.' }),
    runs: t.field({
      type: [SweepRunRef],
      description: 'Every run, by index, with its current task.',
      resolve: async (sweep, _args, ctx) => {
        const row = 'runs' in sweep ? (sweep as SweepRow) : await ctx.services.sweeps.get(ctx.em, sweep.id);
        const runs = await ctx.services.sweeps.runs(ctx.em, row);
        return runs.map((run) => ({ ...run, values: sweep.varying.map((key) => valueOf(run.overrides, key)) }));
      },
    }),
  }),
});

const SweepRunPreview = builder.objectRef<SweepPreviewValue['runs'][number]>('SweepRunPreview').implement({
  fields: (t) => ({
    index: t.exposeInt('index'),
    overrides: t.exposeStringList('overrides', { description: "The run's sweep values." }),
    words: t.exposeStringList('words', { description: 'Exactly what its task appends to the command: its Hydra arguments, hydra.job.num and its output directory.' }),
  }),
});

const SweepPreview = builder.objectRef<SweepPreviewValue>('SweepPreview').implement({
  fields: (t) => ({
    tag: t.exposeString('tag', { description: 'Pass it to submitSweep to submit exactly this sweep.' }),
    script: t.exposeString('script', { description: 'The one sbatch script of every task.' }),
    commit: t.exposeString('commit', { description: 'Send it back as SweepInput.job.commit.' }),
    warnings: t.exposeStringList('warnings'),
    preflight: t.field({ type: Preflight, description: "SLURM's verdict on one task's resources.", resolve: (preview) => preview.preflight }),
    count: t.int({ resolve: (preview) => preview.runs.length }),
    limit: t.exposeInt('limit', { description: "Most runs a sweep may have on this cluster (its MaxArraySize − 1 and the configured cap)." }),
    throttle: t.exposeInt('throttle'),
    varying: t.exposeStringList('varying'),
    keys: t.exposeStringList('keys', { description: "Every key of the sweep, in Hydra's order (the first varies slowest)." }),
    runs: t.field({ type: [SweepRunPreview], resolve: (preview) => preview.runs }),
  }),
});

const SweepInput = builder.inputType('SweepInput', {
  description: "A sweep: the settings every run shares, and the overrides that vary (Hydra's sweep syntax).",
  fields: (t) => ({
    job: t.field({ type: JobInput, required: true }),
    sweep: t.stringList({
      required: true,
      description: "Hydra sweep overrides, one each: `seed=1,2,3`, `model=resnet,vit`, `lr=range(0.1,1,0.2)`, `model=glob(*)`, `choice(...)`, `shuffle`/`sort`. Sweep syntax in job.rawOverrides and the primary config's hydra.sweeper.params join them.",
    }),
    throttle: t.int({ description: 'How many tasks may run at once; default min(runs, 64).' }),
  }),
});

const toSweepInput = (input: typeof SweepInput.$inferInput) => ({ job: toJobInput(input.job), sweep: input.sweep, throttle: input.throttle ?? null });

const SweepConnection = builder.objectRef<{ nodes: SweepRow[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } }>('SweepConnection').implement({
  fields: (t) => ({
    nodes: t.field({ type: [Sweep], resolve: (connection) => connection.nodes }),
    pageInfo: t.field({ type: PageInfo, resolve: (connection) => connection.pageInfo }),
  }),
});

const SweepFilter = builder.inputType('SweepFilter', {
  fields: (t) => ({
    projectId: t.int(),
    cluster: t.string(),
    archived: t.boolean({ description: 'Omit for both.' }),
  }),
});

const cursorOf = (sweep: SweepRow) => Buffer.from(`sweep:${sweep.id}`).toString('base64url');
function idOfCursor(cursor: string): number {
  const match = /^sweep:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw new GraphQLError('after: not a cursor from this API', { extensions: { code: 'BAD_USER_INPUT' } });
  return Number(match[1]);
}

builder.queryFields((t) => ({
  sweep: t.field({
    type: Sweep,
    errors: { types: [NotFoundError] },
    args: { id: t.arg.int({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.sweeps.get(ctx.em, args.id),
  }),
  sweeps: t.field({
    type: SweepConnection,
    description: 'Newest first.',
    args: { filter: t.arg({ type: SweepFilter }), first: t.arg.int({ defaultValue: 50 }), after: t.arg.string() },
    resolve: async (_root, args, ctx) => {
      const { sweeps, hasNextPage } = await ctx.services.sweeps.list(ctx.em, args.filter ?? {}, args.first ?? 50, args.after ? idOfCursor(args.after) : null);
      return { nodes: sweeps, pageInfo: { hasNextPage, endCursor: sweeps.length > 0 ? cursorOf(sweeps.at(-1)!) : null } };
    },
  }),
  previewSweep: t.field({
    type: SweepPreview,
    description: 'The runs of a sweep (each checked as a single launch would be), and the one script its tasks run.',
    errors: { types: launchErrors },
    args: { input: t.arg({ type: SweepInput, required: true }), tag: t.arg.string() },
    resolve: (_root, args, ctx) => ctx.services.sweeps.preview(ctx.em, toSweepInput(args.input), args.tag ?? null, requesterOf(ctx.session)),
  }),
}));

builder.mutationFields((t) => ({
  submitSweep: t.field({
    type: Sweep,
    description: 'Stores the sweep and its tasks, then submits ONE job array. SLURM refusing it leaves every task SUBMIT_FAILED with its message.',
    errors: { types: [SweepAlreadySubmittedError, LaunchNotRecordedError, ...launchErrors] },
    args: { input: t.arg({ type: SweepInput, required: true }), tag: t.arg.string({ description: 'The tag previewSweep returned.' }) },
    resolve: async (_root, args, ctx) => {
      await assertMaySteerId(ctx.em, ctx.session, ProjectEntity, args.input.job.projectId, 'job.projectId');
      return ctx.services.sweeps.submit(ctx.em, toSweepInput(args.input), args.tag ?? null);
    },
  }),
  cancelSweep: t.field({
    type: Sweep,
    description: 'Cancels every task not ended, or with onlyPending those not started (running ones finish).',
    errors: { types: [NotFoundError, ValidationError, ...clusterErrors] },
    args: { id: t.arg.int({ required: true }), onlyPending: t.arg.boolean({ defaultValue: false }) },
    resolve: async (_root, args, ctx) => {
      await assertMaySteerId(ctx.em, ctx.session, SweepEntity, args.id, 'id');
      return ctx.services.sweeps.cancel(ctx.em, args.id, args.onlyPending ?? false);
    },
  }),
  setSweepThrottle: t.field({
    type: Sweep,
    description: 'How many of its tasks may run at once from now on.',
    errors: { types: [NotFoundError, ValidationError, ...clusterErrors] },
    args: { id: t.arg.int({ required: true }), max: t.arg.int({ required: true }) },
    resolve: async (_root, args, ctx) => {
      await assertMaySteerId(ctx.em, ctx.session, SweepEntity, args.id, 'id');
      return ctx.services.sweeps.setThrottle(ctx.em, args.id, args.max);
    },
  }),
  relaunchFailedTasks: t.field({
    type: Sweep,
    description: 'Runs the failed tasks again as one new job array of their indexes, on the same commit with the same words; they replace the failed ones in the sweep (retries + 1).',
    errors: { types: [NotFoundError, ValidationError, LaunchNotRecordedError, ...clusterErrors] },
    args: { id: t.arg.int({ required: true }) },
    resolve: async (_root, args, ctx) => {
      await assertMaySteerId(ctx.em, ctx.session, SweepEntity, args.id, 'id');
      return ctx.services.sweeps.relaunchFailed(ctx.em, args.id);
    },
  }),
  archiveSweep: t.field({
    type: Sweep,
    errors: { types: [NotFoundError, ValidationError] },
    args: { id: t.arg.int({ required: true }), archived: t.arg.boolean({ defaultValue: true }) },
    resolve: async (_root, args, ctx) => {
      await assertMaySteerId(ctx.em, ctx.session, SweepEntity, args.id, 'id');
      return ctx.services.sweeps.setArchived(ctx.em, args.id, args.archived ?? true);
    },
  }),
}));

builder.subscriptionFields((t) => ({
  sweepUpdated: t.field({
    type: Sweep,
    extensions: { [SHARED_DELIVERY]: true },
    description: "A sweep whose task counts, end, throttle or retries changed (its tasks' own changes are jobUpdated).",
    args: { projectId: t.arg.int(), sweepIds: t.arg.intList() },
    subscribe: (_root, args, ctx) =>
      pipe(
        ctx.services.events.subscribe('sweep:updated'),
        filter((sweep) => owns(ctx.session, sweep) && (args.projectId == null || sweep.projectId === args.projectId) && (!args.sweepIds?.length || args.sweepIds.includes(sweep.id))),
      ),
    resolve: (sweep) => sweep,
  }),
}));

// Job.sweep lives here, beside the Sweep type it returns.
builder.objectField(Job, 'sweep', (t) =>
  t.field({
    type: Sweep,
    nullable: true,
    description: 'The sweep this job is a task of.',
    resolve: (job, _args, ctx) => (job.sweepId == null ? null : ctx.services.sweeps.get(ctx.em, job.sweepId)),
  }),
);
