import { GraphQLError } from 'graphql';
import { wrapErrorIfMatches } from '@pothos/plugin-errors';
import { filter, pipe } from 'graphql-yoga';
import { assertMaySteerId, ownerOf, owns } from '../server/access/ownership.js';
import { Job as JobEntity, Project as ProjectEntity, type Job as JobRow } from '../server/db/entities.js';
import { AppError, LaunchAlreadySubmittedError, LaunchNotRecordedError, LogTailLimitError, NotFoundError, RateLimitedError, ValidationError } from '../server/errors.js';
import { HydraConfigError } from '../server/projects/hydra/config.js';
import { DEPENDENCY_KINDS, type Dependency as DependencyValueType, type DependencyKind as DependencyKindValue, type GroupChoice, type JobInput as JobInputValue, type ParameterValue, type ResumeInput as ResumeInputValue, RESUME_SIGNAL_SECONDS } from '../server/jobs/input.js';
import { LOG_TAIL_BYTES, logTailBytes } from '../server/jobs/log-text.js';
import type { JobLogChunk } from '../server/events.js';
import type { JobLog as JobLogValue, LaunchInput, LineageNode as LineageNodeValue, ScriptPreview as ScriptPreviewValue } from '../server/jobs/service.js';
import { JOB_STATES } from '../server/jobs/transitions.js';
import { builder, SHARED_DELIVERY } from './builder.js';
import { Preflight, requesterOf } from './preflight.js';
import { clusterErrors } from './errors.js';
import { GroupChoiceInput, Project, toHydraChoice } from './project.js';

export const JobState = builder.enumType('JobState', {
  description: 'Normalized from SLURM\'s state; `slurmState` keeps SLURM\'s own words. UNKNOWN is never taken for success.',
  values: JOB_STATES,
});

const GroupChoiceValue = builder.objectRef<GroupChoice>('GroupChoice').implement({
  fields: (t) => ({
    group: t.exposeString('group'),
    option: t.exposeString('option', { nullable: true }),
    options: t.stringList({ nullable: true, resolve: (choice) => choice.options ?? null }),
  }),
});
const ParameterValueRef = builder.objectRef<ParameterValue>('ParameterValue').implement({
  fields: (t) => ({
    path: t.exposeString('path'),
    value: t.field({ type: 'JSON', nullable: true, resolve: (parameter) => parameter.value }),
    add: t.boolean({ resolve: (parameter) => parameter.add ?? false }),
  }),
});

export const DependencyKind = builder.enumType('DependencyKind', {
  description: "SLURM's dependency types: start after success (afterok), after any end (afterany), after a failure (afternotok), or task i of a sweep after task i of another of the same size (aftercorr).",
  values: DEPENDENCY_KINDS.map((kind) => kind.toUpperCase()) as Uppercase<DependencyKindValue>[],
});
const toKind = (kind: Uppercase<DependencyKindValue>) => kind.toLowerCase() as DependencyKindValue;

const DependencyValue = builder.objectRef<DependencyValueType>('Dependency').implement({
  description: 'What a launch waits for: a job or a sweep.',
  fields: (t) => ({
    kind: t.field({ type: DependencyKind, resolve: (dependency) => dependency.kind.toUpperCase() as Uppercase<DependencyKindValue> }),
    jobId: t.exposeInt('jobId', { nullable: true }),
    sweepId: t.exposeInt('sweepId', { nullable: true }),
  }),
});

const DependencyInput = builder.inputType('DependencyInput', {
  description: 'Wait for a job (jobId) or a whole sweep (sweepId); exactly one of them.',
  fields: (t) => ({
    kind: t.field({ type: DependencyKind, required: true }),
    jobId: t.int(),
    sweepId: t.int(),
  }),
});

const ResumeValue = builder.objectRef<ResumeInputValue>('Resume').implement({
  description: 'The job checkpoints and requeues itself at its time limit (its own script does it, with or without this server).',
  fields: (t) => ({
    maxRestarts: t.exposeInt('maxRestarts'),
    signalSeconds: t.int({ resolve: (resume) => resume.signalSeconds ?? RESUME_SIGNAL_SECONDS }),
    override: t.exposeString('override', { nullable: true }),
  }),
});

const ResumeInput = builder.inputType('ResumeInput', {
  description: 'Survive the time limit: SLURM signals the script (USR2) signalSeconds before it; the script passes USR2 to the training (to checkpoint), waits up to half that for it to exit, and requeues the job while fewer than maxRestarts restarts were made. A restart runs with `override` added.',
  fields: (t) => ({
    maxRestarts: t.int({ required: true, description: '1 to 20.' }),
    signalSeconds: t.int({ defaultValue: RESUME_SIGNAL_SECONDS, description: 'Seconds before the time limit, 30 to 3600, less than the time limit. SLURM may signal up to a minute earlier.' }),
    override: t.string({ description: 'One Hydra override a restart adds, e.g. `+resume=true` or `ckpt_path=last`; omitted: none.' }),
  }),
});

export const JobInputFields = builder.objectRef<JobInputValue>('JobInputValue').implement({
  description: 'The settings of a launch, as submitted: feed them back as JobInput to launch again.',
  fields: (t) => ({
    projectId: t.exposeInt('projectId'),
    cluster: t.exposeString('cluster'),
    name: t.exposeString('name', { nullable: true }),
    description: t.exposeString('description'),
    partition: t.exposeString('partition', { nullable: true }),
    account: t.exposeString('account', { nullable: true }),
    qos: t.exposeString('qos', { nullable: true }),
    nodes: t.exposeInt('nodes'),
    gpusPerNode: t.exposeInt('gpusPerNode'),
    gpuType: t.exposeString('gpuType', { nullable: true }),
    cpusPerTask: t.exposeInt('cpusPerTask'),
    memory: t.exposeString('memory', { nullable: true, description: "Null: the partition's or the site's default (DefMemPerCPU or DefMemPerNode)." }),
    timeLimit: t.exposeString('timeLimit', { nullable: true, description: "Null: the partition's DefaultTime (or its MaxTime)." }),
    primary: t.exposeString('primary', { nullable: true }),
    groups: t.field({ type: [GroupChoiceValue], resolve: (input) => input.groups }),
    parameters: t.field({ type: [ParameterValueRef], resolve: (input) => input.parameters }),
    rawOverrides: t.exposeString('rawOverrides'),
    overrides: t.stringList({ resolve: (input) => input.overrides ?? [] }),
    parentJobId: t.exposeInt('parentJobId', { nullable: true }),
    dependsOn: t.field({ type: [DependencyValue], resolve: (input) => input.dependsOn ?? [] }),
    allowUnpushed: t.exposeBoolean('allowUnpushed'),
    resume: t.field({ type: ResumeValue, nullable: true, resolve: (input) => input.resume ?? null }),
  }),
});

const ParameterValueInput = builder.inputType('ParameterValueInput', {
  fields: (t) => ({
    path: t.string({ required: true }),
    value: t.field({ type: 'JSON' }),
    add: t.boolean({ defaultValue: false, description: 'Add a key the composed config does not have (`+path=value`); without it such a key is refused.' }),
  }),
});

export /**
 * What a launch that leaves a value out gets: written once, for the schema's defaults (shown in introspection) and for
 * a variable sent as null, which GraphQL does not replace by the default.
 */
const JOB_INPUT_DEFAULTS = {
  description: '',
  nodes: 1,
  gpusPerNode: 0,
  cpusPerTask: 1,
  rawOverrides: '',
  allowUnpushed: false,
} as const;

export const JobInput = builder.inputType('JobInput', {
  description: 'Everything a launch needs. Each value is validated; a refusal is a ValidationError naming its field.',
  fields: (t) => ({
    projectId: t.int({ required: true }),
    cluster: t.string({ required: true }),
    name: t.string({ description: 'SLURM job name; defaults to the project name.' }),
    description: t.string({ defaultValue: JOB_INPUT_DEFAULTS.description, description: 'Free text; also fills experiment_suffix when the config has one.' }),
    partition: t.string({ description: "Default: the cluster's default partition." }),
    account: t.string(),
    qos: t.string(),
    nodes: t.int({ defaultValue: JOB_INPUT_DEFAULTS.nodes }),
    gpusPerNode: t.int({ defaultValue: JOB_INPUT_DEFAULTS.gpusPerNode }),
    gpuType: t.string({ description: 'e.g. a100; any type when omitted.' }),
    cpusPerTask: t.int({ defaultValue: JOB_INPUT_DEFAULTS.cpusPerTask }),
    memory: t.string({ description: "SLURM memory per node: 500M, 16G, 1T. Omitted: no --mem is written, so the partition's or the site's default applies (Cluster.partitionLimits says which)." }),
    timeLimit: t.string({ description: "MM, HH:MM:SS or D-HH:MM:SS. Omitted: no --time is written, so the partition's DefaultTime (or else its MaxTime) applies." }),
    primary: t.string({ description: 'Hydra primary config (e.g. train); omit for a project without Hydra.' }),
    groups: t.field({ type: [GroupChoiceInput], defaultValue: [] }),
    parameters: t.field({ type: [ParameterValueInput], defaultValue: [] }),
    rawOverrides: t.string({ defaultValue: JOB_INPUT_DEFAULTS.rawOverrides, description: 'Hydra overrides as typed, e.g. `+trainer.precision=16 seed=1`; parsed, never pasted.' }),
    overrides: t.stringList({ defaultValue: [], description: 'Hydra overrides as argv words, one override each (no quoting needed), applied after rawOverrides. A sweep task has its values here.' }),
    parentJobId: t.int({ description: 'The job this one was cloned or branched from.' }),
    dependsOn: t.field({ type: [DependencyInput], defaultValue: [], description: 'Earlier jobs or sweeps this launch waits for (SLURM --dependency); the job shows DependencyNeverSatisfied as its reason when one can no longer be met.' }),
    allowUnpushed: t.boolean({ defaultValue: JOB_INPUT_DEFAULTS.allowUnpushed }),
    resume: t.field({ type: ResumeInput, description: 'Checkpoint and requeue at the time limit; omitted or null: the job ends at its limit (TIMEOUT).' }),
    commit: t.string({
      description:
        "The commit previewScript showed (ScriptPreview.commit). submitJob refuses with a ValidationError on `commit` when the repository's HEAD is another one now: the form was computed from the work tree at that commit. Omit it to launch whatever HEAD is.",
    }),
  }),
});

/** GraphQL input (optional fields may be absent) → the service's JobInput (every field present). */
export function toJobInput(input: typeof JobInput.$inferInput): LaunchInput {
  return {
    projectId: input.projectId,
    cluster: input.cluster,
    name: input.name ?? null,
    description: input.description ?? JOB_INPUT_DEFAULTS.description,
    partition: input.partition ?? null,
    account: input.account ?? null,
    qos: input.qos ?? null,
    nodes: input.nodes ?? JOB_INPUT_DEFAULTS.nodes,
    gpusPerNode: input.gpusPerNode ?? JOB_INPUT_DEFAULTS.gpusPerNode,
    gpuType: input.gpuType ?? null,
    cpusPerTask: input.cpusPerTask ?? JOB_INPUT_DEFAULTS.cpusPerTask,
    memory: input.memory ?? null,
    timeLimit: input.timeLimit ?? null,
    primary: input.primary ?? null,
    groups: (input.groups ?? []).map(toHydraChoice),
    parameters: (input.parameters ?? []).map((parameter) => ({ path: parameter.path, value: parameter.value ?? null, ...(parameter.add ? { add: true } : {}) })),
    rawOverrides: input.rawOverrides ?? JOB_INPUT_DEFAULTS.rawOverrides,
    ...(input.overrides?.length ? { overrides: input.overrides } : {}),
    parentJobId: input.parentJobId ?? null,
    ...(input.dependsOn?.length ? { dependsOn: input.dependsOn.map((dependency) => ({ kind: toKind(dependency.kind), jobId: dependency.jobId ?? null, sweepId: dependency.sweepId ?? null })) } : {}),
    allowUnpushed: input.allowUnpushed ?? JOB_INPUT_DEFAULTS.allowUnpushed,
    ...(input.resume ? { resume: { maxRestarts: input.resume.maxRestarts, signalSeconds: input.resume.signalSeconds ?? RESUME_SIGNAL_SECONDS, override: input.resume.override ?? null } } : {}),
    commit: input.commit ?? null,
  };
}

const JobLog = builder.objectRef<JobLogValue>('JobLog').implement({
  fields: (t) => ({
    text: t.exposeString('text', { description: 'ANSI stripped; progress bars collapsed to their last state when asked.' }),
    sizeBytes: t.expose('sizeBytes', { type: 'ByteOffset', nullable: true, description: 'Size of the whole output file; null before the job wrote any.' }),
    truncated: t.exposeBoolean('truncated', { description: 'Only the end of the file was read.' }),
    wandbUrl: t.exposeString('wandbUrl', { nullable: true }),
  }),
});

export const Job = builder.objectRef<JobRow>('Job').implement({
  description: 'One launch of a project on a cluster.',
  fields: (t) => ({
    id: t.exposeInt('id'),
    tag: t.exposeString('tag', { description: "Mission Control's id of the launch; part of the job's directory on the cluster." }),
    projectId: t.exposeInt('projectId'),
    project: t.field({ type: Project, resolve: (job, _args, ctx) => ctx.services.projects.get(ctx.em, job.projectId, { includeDeleted: true }) }),
    parentId: t.exposeInt('parentId', { nullable: true }),
    sweepId: t.exposeInt('sweepId', { nullable: true, description: 'The sweep this job is a task of.' }),
    arrayIndex: t.exposeInt('arrayIndex', { nullable: true, description: "Its index in the sweep's job array ($SLURM_ARRAY_TASK_ID)." }),
    dependsOn: t.field({
      type: [DependencyValue],
      description: 'What it waits for (see reason: DependencyNeverSatisfied when that can no longer be met).',
      resolve: async (job, _args, ctx) => (await ctx.services.jobs.withSettings(ctx.em, job)).input.dependsOn ?? [],
    }),
    cluster: t.exposeString('cluster'),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    commitSha: t.exposeString('commitSha'),
    branch: t.exposeString('branch', { nullable: true }),
    // A list leaves a job's settings and script in the database (jobs/queries.ts): read when asked for.
    input: t.field({ type: JobInputFields, resolve: async (job, _args, ctx) => (await ctx.services.jobs.withSettings(ctx.em, job)).input }),
    script: t.string({ description: 'Exactly the script that was submitted.', resolve: async (job, _args, ctx) => (await ctx.services.jobs.withSettings(ctx.em, job)).script }),
    slurmJobId: t.exposeString('slurmJobId', { nullable: true }),
    state: t.field({ type: JobState, resolve: (job) => job.state }),
    slurmState: t.exposeString('slurmState', { nullable: true, description: 'SLURM\'s own state text, e.g. "CANCELLED by 1001".' }),
    reason: t.exposeString('reason', { nullable: true, description: 'Why SLURM keeps it pending, or why it ended.' }),
    exitCode: t.exposeInt('exitCode', { nullable: true }),
    signal: t.exposeInt('signal', { nullable: true }),
    nodeList: t.exposeString('nodeList', { nullable: true }),
    submitError: t.exposeString('submitError', { nullable: true, description: "sbatch's message when it refused the job." }),
    wandbUrl: t.exposeString('wandbUrl', { nullable: true }),
    archived: t.exposeBoolean('archived'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    submittedAt: t.expose('submittedAt', { type: 'DateTime', nullable: true }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    endedAt: t.expose('endedAt', { type: 'DateTime', nullable: true }),
    elapsedSeconds: t.exposeInt('elapsedSeconds', { nullable: true }),
    lastSeenAt: t.expose('lastSeenAt', { type: 'DateTime', nullable: true, description: 'When SLURM last confirmed the state.' }),
    log: t.field({
      type: JobLog,
      description: `The end of the output file, read with a byte bound (a 1 GB log is never shipped whole): tailBytes is brought within ${LOG_TAIL_BYTES.min / 1024} kB to ${LOG_TAIL_BYTES.max / 1024 ** 2} MiB. Each read runs a command on the cluster: rate-limited per token, in calls and in bytes asked (RateLimitedError).`,
      errors: { types: [RateLimitedError, ...clusterErrors] },
      args: { tailBytes: t.arg({ type: 'ByteOffset', defaultValue: LOG_TAIL_BYTES.default }), collapseProgress: t.arg.boolean({ defaultValue: true }) },
      resolve: (job, args, ctx) => {
        const tailBytes = logTailBytes(args.tailBytes ?? LOG_TAIL_BYTES.default);
        // What the file had to give: all that was asked, or less of a shorter file.
        const read = (log: JobLogValue) => Math.min(tailBytes, log.sizeBytes ?? 0);
        return ctx.services.limits.read(ctx.session, 'log', job.id, tailBytes, () => ctx.services.jobs.log(ctx.em, job.id, tailBytes, args.collapseProgress ?? true), read);
      },
    }),
  }),
});

export const PageInfo = builder.objectRef<{ hasNextPage: boolean; endCursor: string | null }>('PageInfo').implement({
  fields: (t) => ({ hasNextPage: t.exposeBoolean('hasNextPage'), endCursor: t.exposeString('endCursor', { nullable: true }) }),
});
const JobEdge = builder.objectRef<{ cursor: string; node: JobRow }>('JobEdge').implement({
  fields: (t) => ({ cursor: t.exposeString('cursor'), node: t.field({ type: Job, resolve: (edge) => edge.node }) }),
});
const JobConnection = builder.objectRef<{ edges: Array<{ cursor: string; node: JobRow }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } }>('JobConnection').implement({
  fields: (t) => ({
    edges: t.field({ type: [JobEdge], resolve: (connection) => connection.edges }),
    nodes: t.field({ type: [Job], resolve: (connection) => connection.edges.map((edge) => edge.node) }),
    pageInfo: t.field({ type: PageInfo, resolve: (connection) => connection.pageInfo }),
  }),
});

const JobFilter = builder.inputType('JobFilter', {
  fields: (t) => ({
    projectId: t.int(),
    states: t.field({ type: [JobState] }),
    cluster: t.string(),
    archived: t.boolean({ description: 'Omit for both.' }),
    search: t.string({
      description:
        'Words in the name or description, in this order, each from its start ("vit-la" finds "ViT-Large"; "large" does not find "vitlarge"); the last word may be the start of one unless the text ends after it ("100%" finds "100", not "1000"). Text without letters or digits ("%") is matched as written. At most 500 characters.',
    }),
    sweepId: t.int({ description: "A sweep's tasks, every attempt (Sweep.runs has the current one per index)." }),
    tasks: t.boolean({ defaultValue: false, description: "Include sweeps' tasks; without sweepId or this, a list shows single launches only (a sweep is one line in `sweeps`)." }),
  }),
});

const cursorOf = (job: JobRow) => Buffer.from(`job:${job.id}`).toString('base64url');
function idOfCursor(cursor: string): number {
  const match = /^job:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw new GraphQLError('after: not a cursor from this API', { extensions: { code: 'BAD_USER_INPUT' } });
  return Number(match[1]);
}

const ScriptPreview = builder.objectRef<ScriptPreviewValue>('ScriptPreview').implement({
  fields: (t) => ({
    tag: t.exposeString('tag', { description: 'Pass it to submitJob to submit exactly this script.' }),
    script: t.exposeString('script'),
    commit: t.exposeString('commit', { description: 'The full sha of the commit the job checks out: HEAD as the repository is now. Send it back as JobInput.commit.' }),
    warnings: t.exposeStringList('warnings'),
    preflight: t.field({ type: Preflight, resolve: (preview) => preview.preflight }),
  }),
});

const JobTemplate = builder.objectRef<{ input: JobInputValue; originalCommit: string; currentCommit: string }>('JobTemplate').implement({
  description: "To clone a job: its settings (with parentJobId set), and its commit beside the project's current one.",
  fields: (t) => ({
    input: t.field({ type: JobInputFields, resolve: (template) => template.input }),
    originalCommit: t.exposeString('originalCommit'),
    currentCommit: t.exposeString('currentCommit'),
  }),
});

const LineageNode = builder.objectRef<LineageNodeValue>('LineageNode').implement({
  fields: (t) => ({
    job: t.field({ type: Job, resolve: (node) => node.job }),
    parentId: t.exposeInt('parentId', { nullable: true }),
    changes: t.exposeStringList('changes', { description: 'What differs from the parent, e.g. "gpusPerNode: 1 → 2".' }),
  }),
});

export const launchErrors = [ValidationError, NotFoundError, HydraConfigError, ...clusterErrors];

builder.queryFields((t) => ({
  job: t.field({
    type: Job,
    errors: { types: [NotFoundError] },
    args: { id: t.arg.int({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.jobs.get(ctx.em, args.id),
  }),
  jobs: t.field({
    type: JobConnection,
    description: 'Newest first.',
    args: { filter: t.arg({ type: JobFilter }), first: t.arg.int({ defaultValue: 50 }), after: t.arg.string() },
    resolve: async (_root, args, ctx) => {
      const { jobs, hasNextPage } = await ctx.services.jobs.list(ctx.em, args.filter ?? {}, args.first ?? 50, args.after ? idOfCursor(args.after) : null).catch((error: unknown) => {
        // The list is not a result union (its clients read `jobs { nodes }`): a refused filter is a plain input error.
        if (error instanceof ValidationError) throw new GraphQLError(error.message, { extensions: { code: 'BAD_USER_INPUT', field: error.field } });
        throw error;
      });
      const edges = jobs.map((node) => ({ cursor: cursorOf(node), node }));
      return { edges, pageInfo: { hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
    },
  }),
  previewScript: t.field({
    type: ScriptPreview,
    description: 'Exactly the script submitJob would submit for this input (and tag).',
    errors: { types: launchErrors },
    args: { input: t.arg({ type: JobInput, required: true }), tag: t.arg.string() },
    resolve: (_root, args, ctx) => ctx.services.jobs.preview(ctx.em, toJobInput(args.input), args.tag ?? null, requesterOf(ctx.session)),
  }),
  jobTemplate: t.field({
    type: JobTemplate,
    errors: { types: [NotFoundError] },
    args: { id: t.arg.int({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.jobs.template(ctx.em, args.id),
  }),
  lastJobInput: t.field({
    type: JobInputFields,
    nullable: true,
    description: "The project's most recent launch settings, to pre-fill the form.",
    args: { projectId: t.arg.int({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.jobs.lastInput(ctx.em, args.projectId),
  }),
  jobLineage: t.field({
    type: [LineageNode],
    description: "A project's jobs with their parents (clones and branches), oldest first.",
    errors: { types: [NotFoundError] },
    args: { projectId: t.arg.int({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.jobs.lineage(ctx.em, args.projectId),
  }),
}));

const idArgs = (t: Parameters<Parameters<typeof builder.mutationFields>[0]>[0]) => ({ id: t.arg.int({ required: true }) });

builder.mutationFields((t) => ({
  submitJob: t.field({
    type: Job,
    description: 'Stores the launch, then submits it. SLURM refusing it is a job in SUBMIT_FAILED with its message.',
    // Before ValidationError, which LaunchAlreadySubmittedError extends: the first matching type names the result.
    errors: { types: [LaunchAlreadySubmittedError, LaunchNotRecordedError, ...launchErrors] },
    args: { input: t.arg({ type: JobInput, required: true }), tag: t.arg.string({ description: 'The tag previewScript returned.' }) },
    resolve: async (_root, args, ctx) => {
      await assertMaySteerId(ctx.em, ctx.session, ProjectEntity, args.input.projectId, 'projectId');
      return ctx.services.jobs.submit(ctx.em, toJobInput(args.input), args.tag ?? null);
    },
  }),
  cancelJob: t.field({
    type: Job,
    errors: { types: [NotFoundError, ValidationError, ...clusterErrors] },
    args: idArgs(t),
    resolve: async (_root, args, ctx) => {
      await assertMaySteerId(ctx.em, ctx.session, JobEntity, args.id, 'id');
      return ctx.services.jobs.cancel(ctx.em, args.id);
    },
  }),
  refreshJob: t.field({
    type: Job,
    description: "Reads the job's state from SLURM now. Rate-limited per token (RateLimitedError): the poller keeps it current anyway.",
    errors: { types: [NotFoundError, RateLimitedError, ...clusterErrors] },
    args: idArgs(t),
    resolve: (_root, args, ctx) => {
      ctx.services.limits.take(ctx.session, 'refreshJob', args.id);
      return ctx.services.jobs.refresh(ctx.em, args.id);
    },
  }),
  archiveJob: t.field({
    type: Job,
    description: "Hides the job from default lists; with cleanup, also removes its code checkout on the cluster.",
    errors: { types: [NotFoundError, ValidationError, ...clusterErrors] },
    args: { id: t.arg.int({ required: true }), cleanup: t.arg.boolean({ defaultValue: false }) },
    resolve: async (_root, args, ctx) => {
      await assertMaySteerId(ctx.em, ctx.session, JobEntity, args.id, 'id');
      return ctx.services.jobs.setArchived(ctx.em, args.id, true, args.cleanup ?? false);
    },
  }),
  unarchiveJob: t.field({
    type: Job,
    errors: { types: [NotFoundError, ValidationError] },
    args: idArgs(t),
    resolve: async (_root, args, ctx) => {
      await assertMaySteerId(ctx.em, ctx.session, JobEntity, args.id, 'id');
      return ctx.services.jobs.setArchived(ctx.em, args.id, false);
    },
  }),
}));

const JobLogChunkRef = builder.objectRef<JobLogChunk>('JobLogChunk').implement({
  fields: (t) => ({
    jobId: t.exposeInt('jobId'),
    fromByte: t.expose('fromByte', { type: 'ByteOffset', description: 'Where `text` starts in the output file (before cleaning).' }),
    text: t.exposeString('text', { description: 'Whole lines, ANSI stripped, progress bars collapsed.' }),
  }),
});

const JOB_LOG_REFUSALS = [LogTailLimitError, NotFoundError, ...clusterErrors];

// Not the errors plugin's `errors:` option: it wraps the subscription in an async generator, and an async generator
// cannot be returned while it awaits the next event, so a watcher leaving a quiet job would never stop its remote tail.
const JobLogEvent = builder.unionType('JobLogEvent', {
  types: [JobLogChunkRef, ...JOB_LOG_REFUSALS],
  // A refusal arrives wrapped (see resolve below), which hides its prototype: told apart by its name, as a chunk has none.
  resolveType: (event) => ('name' in event ? (event as AppError).name : 'JobLogChunk'),
});

builder.subscriptionFields((t) => ({
  jobLog: t.field({
    type: JobLogEvent,
    description:
      "A job's output: while it runs, as it is written (one remote tail per job, shared by all its watchers), starting with the last 64 kB, or from fromByte; once it has ended, the rest of it (the last 64 kB, or what follows fromByte) read once, then the stream completes. A refusal (LogTailLimitError, NotFoundError, or the cluster's error reading a finished job's output) is the subscription's one event.",
    args: { jobId: t.arg.int({ required: true }), fromByte: t.arg({ type: 'ByteOffset' }) },
    subscribe: (_root, args, ctx) => ctx.services.logs.follow(args.jobId, args.fromByte ?? null, ownerOf(ctx.session)),
    // The follower hands a refusal out as the stream's one event; an Error a resolver returns is thrown by GraphQL (and
    // masked), so it goes out wrapped as the errors plugin wraps its own.
    resolve: (event) => (event instanceof AppError ? (wrapErrorIfMatches(event, JOB_LOG_REFUSALS) as JobLogChunk) : event),
  }),
  jobUpdated: t.field({
    type: Job,
    extensions: { [SHARED_DELIVERY]: true },
    description: 'A job whose state, reason, exit code, nodes or W&B link changed; never sent for nothing, and no subscriber causes a remote command.',
    args: { projectId: t.arg.int(), jobIds: t.arg.intList(), sweepId: t.arg.int({ description: "Only this sweep's tasks." }) },
    subscribe: (_root, args, ctx) =>
      pipe(
        ctx.services.events.subscribe('job:updated'),
        filter(
          (job) =>
            owns(ctx.session, job) &&
            (args.projectId == null || job.projectId === args.projectId) &&
            (!args.jobIds?.length || args.jobIds.includes(job.id)) &&
            (args.sweepId == null || job.sweepId === args.sweepId),
        ),
      ),
    resolve: (job) => job,
  }),
}));
