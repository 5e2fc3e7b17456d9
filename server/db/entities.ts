import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import type { JobInput } from '../jobs/input.js';
import type { ProjectSettings } from '../projects/settings.js';
import type { PartitionInfo } from '../slurm/parse.js';
import type { JobState } from '../slurm/state.js';

export type { PartitionInfo };


/** The last connection check of each configured cluster, so a restart shows the last known state at once. */
export const ClusterCheck = defineEntity({
  name: 'ClusterCheck',
  tableName: 'cluster_check',
  properties: {
    cluster: p.text().primary(),
    reachable: p.boolean(),
    latencyMs: p.integer().nullable(),
    slurmVersion: p.text().nullable(),
    partitions: p.json<PartitionInfo[]>(),
    error: p.text().nullable(),
    checkedAt: p.datetime(),
  },
});
export type ClusterCheck = InferEntity<typeof ClusterCheck>;

/**
 * A person using the server (issue 21, the group server). Everything they launch, and their tokens and devices, is
 * theirs: a user sees and steers only their own; an admin sees everyone's. A single-user server has one, `owner`.
 */
export const User = defineEntity({
  name: 'User',
  // `user` is a reserved word in PostgreSQL.
  tableName: 'user_account',
  properties: {
    id: p.integer().primary().autoincrement(),
    name: p.text().unique(),
    admin: p.boolean(),
    createdAt: p.datetime(),
  },
});
export type User = InferEntity<typeof User>;

/** A local git repository the user launches from. Deleting one keeps it (deletedAt) so its jobs keep their history. */
export const Project = defineEntity({
  name: 'Project',
  tableName: 'project',
  properties: {
    id: p.integer().primary().autoincrement(),
    /** The user it belongs to (user_account). */
    userId: p.integer().ignoreSchemaChanges('default'),
    name: p.text(),
    localPath: p.text().unique(),
    originUrl: p.text().nullable(),
    cloneUrl: p.text().nullable(),
    branch: p.text().nullable(),
    headSha: p.text(),
    headSubject: p.text(),
    dirty: p.boolean(),
    pushed: p.boolean(),
    settings: p.json<ProjectSettings>(),
    syncedAt: p.datetime(),
    createdAt: p.datetime(),
    deletedAt: p.datetime().nullable(),
  },
  indexes: [{ properties: ['userId'] }],
});
export type Project = InferEntity<typeof Project>;

/** A run of a job that ended with the job back in the queue, under the same SLURM id. */
export interface JobRequeue {
  /** ISO time of the requeue: the job script's own word when it requeued itself, else when the poll first saw it. */
  at: string;
  /** ISO start of the run it ended (null: not seen running). */
  runStartedAt: string | null;
  /** 'time-limit': the job's script requeued itself at its time limit's signal; null: SLURM, preemption or an admin. */
  cause: 'time-limit' | null;
}

/**
 * One launch. It is stored before anything reaches the cluster (state SUBMITTING, with a tag that travels to SLURM
 * in the job's working directory), so a crash between sbatch and saving the SLURM id can be repaired by the tag.
 */
export const Job = defineEntity({
  name: 'Job',
  tableName: 'job',
  properties: {
    id: p.integer().primary().autoincrement(),
    tag: p.text().unique(),
    /** The user it belongs to (user_account). */
    userId: p.integer().ignoreSchemaChanges('default'),
    projectId: p.integer(),
    parentId: p.integer().nullable(),
    /** The sweep this job is a task of (null: a single launch), and its index in the sweep's job array. */
    sweepId: p.integer().nullable(),
    arrayIndex: p.integer().nullable(),
    cluster: p.text(),
    name: p.text(),
    description: p.text(),
    commitSha: p.text(),
    branch: p.text().nullable(),
    input: p.json<JobInput>(),
    script: p.text(),
    /** Absolute path of the job's directory on the cluster: script, output, lifecycle events, code checkout. */
    jobDir: p.text(),
    slurmJobId: p.text().nullable(),
    state: p.text().$type<JobState>(),
    slurmState: p.text().nullable(),
    reason: p.text().nullable(),
    exitCode: p.integer().nullable(),
    signal: p.integer().nullable(),
    nodeList: p.text().nullable(),
    submitError: p.text().nullable(),
    wandbUrl: p.text().nullable(),
    archived: p.boolean(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    submittedAt: p.datetime().nullable(),
    startedAt: p.datetime().nullable(),
    endedAt: p.datetime().nullable(),
    elapsedSeconds: p.integer().nullable(),
    /** While PENDING: when SLURM's scheduler expects it to start (its estimate, or the --begin time); null when it gives none. */
    estimatedStartAt: p.datetime().nullable(),
    /** When SLURM last confirmed the state; stale when that is long ago. */
    lastSeenAt: p.datetime().nullable(),
    /** While RUNNING: when its current run reaches its time limit, as SLURM computes it (start + limit or DefaultTime); null without one. */
    timeLimitAt: p.datetime().nullable(),
    /** How many times SLURM put the job back in the queue (scontrol requeue: its own script, preemption, an admin). */
    restarts: p.integer().default(0),
    /** Each run that ended in a requeue, oldest first (the current run is startedAt). */
    requeues: p.json<JobRequeue[]>().default('[]' as never).onCreate(() => []),
    // Read from `input` by triggers for the usage aggregates (Migration20261205110000); the server never sets them.
    gpuCount: p.integer().default(0),
    /** 'any': GPUs of no named type; null: no GPUs. */
    gpuType: p.text().nullable(),
    /** null: the cluster's default partition. */
    slurmPartition: p.text().nullable(),
  },
  indexes: [
    { properties: ['projectId', 'archived', 'id'] },
    { properties: ['projectId', 'state', 'id'] },
    { properties: ['state', 'id'] },
    { properties: ['cluster', 'state'] },
    { properties: ['cluster', 'slurmJobId'] },
    { properties: ['parentId'] },
    { properties: ['sweepId', 'arrayIndex'] },
    // A user's lists (an admin's are the ones above).
    { properties: ['userId', 'archived', 'id'] },
    { properties: ['userId', 'state', 'id'] },
    // The usage aggregates' (server/usage/queries.ts): each holds every column its statement reads.
    { name: 'job_usage_started_index', properties: ['startedAt', 'endedAt', 'submittedAt', 'gpuCount', 'state', 'cluster', 'projectId', 'slurmPartition', 'gpuType', 'userId'] },
    { name: 'job_usage_unstarted_index', expression: 'create index "job_usage_unstarted_index" on "job" ("ended_at", "state", "cluster", "project_id", "gpu_type", "user_id") where "started_at" is null' },
    { name: 'job_usage_running_index', expression: 'create index "job_usage_running_index" on "job" ("started_at", "gpu_count", "state", "cluster", "project_id", "gpu_type", "ended_at", "user_id") where "ended_at" is null' },
  ],
});
export type Job = InferEntity<typeof Job>;

export interface SweepRun {
  overrides: string[];
  words: string[];
}

/** What a sweep's latest tasks are doing, by state; kept by the sweeps domain whenever a task changes. */
export type SweepCounts = Partial<Record<JobState, number>>;

/**
 * A Hydra multirun launched as one SLURM job array: one Job row per task (Job.sweepId, Job.arrayIndex). Its tasks
 * are stored with it before sbatch runs, like a single launch. A relaunch of failed tasks is a further submission
 * (its own tag and job directory, same commit and run list) whose new task rows take the failed ones' indexes.
 */
export const Sweep = defineEntity({
  name: 'Sweep',
  tableName: 'sweep',
  properties: {
    id: p.integer().primary().autoincrement(),
    /** The tag of the first submission: its job directory holds the sweep's checkout, script and run list. */
    tag: p.text().unique(),
    /** The user it belongs to (user_account). */
    userId: p.integer().ignoreSchemaChanges('default'),
    projectId: p.integer(),
    cluster: p.text(),
    name: p.text(),
    commitSha: p.text(),
    /** The launch settings every run shares. */
    input: p.json<JobInput>(),
    /** The sweep overrides as given (`seed=1,2,3`, `model=glob(*)`); the runs are expanded from them. */
    definition: p.json<string[]>(),
    /** Keys whose value differs between runs: the columns of the sweep's table. */
    varying: p.json<string[]>(),
    size: p.integer(),
    /** Per array index: the run's sweep values, and the words its task appends to the command (a relaunch reuses them). */
    runs: p.json<SweepRun[]>().lazy(true, false),
    throttle: p.integer(),
    /** SLURM's id of the first submission's job array; relaunched tasks have their own in their slurmJobId. */
    arrayJobId: p.text().nullable(),
    /** How many times failed tasks were relaunched. */
    retries: p.integer(),
    counts: p.json<SweepCounts>(),
    archived: p.boolean(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    /** When its last task ended; null while any runs or waits. A relaunch clears it. */
    endedAt: p.datetime().nullable(),
  },
  indexes: [
    { properties: ['projectId', 'archived', 'id'] },
    { properties: ['archived', 'id'] },
    { properties: ['userId', 'archived', 'id'] },
  ],
});
export type Sweep = InferEntity<typeof Sweep>;

/**
 * An API token. Only the SHA-256 of the token is kept: the token itself is shown once, at creation, and a stolen
 * database cannot be replayed against the server. Revoking deletes the row.
 */
export const ApiToken = defineEntity({
  name: 'ApiToken',
  tableName: 'api_token',
  properties: {
    id: p.integer().primary().autoincrement(),
    /** The user it acts as. */
    userId: p.integer().ignoreSchemaChanges('default'),
    name: p.text().unique(),
    /** Hex SHA-256 of the token. */
    tokenHash: p.text().unique(),
    readOnly: p.boolean(),
    createdAt: p.datetime(),
    /** Written at most once a minute per token, so authenticating stays a read. */
    lastUsedAt: p.datetime().nullable(),
  },
});
export type ApiToken = InferEntity<typeof ApiToken>;

/** A browser's Web Push subscription (one per device and app install); `endpoint` is the push service's URL for it. */
export const PushSubscription = defineEntity({
  name: 'PushSubscription',
  tableName: 'push_subscription',
  properties: {
    id: p.integer().primary().autoincrement(),
    /** The user whose jobs it is told about. */
    userId: p.integer().ignoreSchemaChanges('default').index(),
    endpoint: p.text().unique(),
    /** The browser's P-256 public key and auth secret (base64url), which every payload is encrypted to. */
    p256dh: p.text(),
    auth: p.text(),
    /** The API token that registered it (null: a token-less server, or registered before devices had owners). */
    tokenId: p.integer().nullable().index(),
    /** Push once when a job has been PENDING this long; null = never. */
    pendingAfterMinutes: p.integer().nullable(),
    mutedProjectIds: p.json<number[]>(),
    /** A sweep's end is one push; with this, each failed task of a sweep is one more. */
    failedTaskPushes: p.boolean().default(false),
    /** A running job's metric became NaN or infinite (once per job and metric; a sweep's tasks once per sweep and metric). */
    metricNanPushes: p.boolean().default(true),
    /** A running job's GPUs all sat idle for 10 minutes (once per job; a sweep's tasks once per sweep). */
    gpuIdlePushes: p.boolean().default(true),
    /** Push once when a job that waited in the queue at least this long starts (a sweep: its first task); null = never. */
    startedAfterWaitMinutes: p.integer().nullable(),
    /** A job was put back in the queue under its SLURM id (once per restart). */
    requeuePushes: p.boolean().default(true),
    /** A running job without resume reaches its time limit in 15 minutes (once per job). */
    timeLimitPushes: p.boolean().default(false),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    lastSuccessAt: p.datetime().nullable(),
    lastFailureAt: p.datetime().nullable(),
    lastError: p.text().nullable(),
  },
});
export type PushSubscription = InferEntity<typeof PushSubscription>;

/**
 * A notification already sent (or being sent), by what it was about: `job-end:<job>`, `job-pending:<subscription>:<job>`,
 * `reauth:<cluster>`. Claimed by inserting the key before sending, so a repeated event or a restart never sends twice.
 */
export const PushNotice = defineEntity({
  name: 'PushNotice',
  tableName: 'push_notice',
  properties: {
    key: p.text().primary(),
    createdAt: p.datetime(),
  },
});
export type PushNotice = InferEntity<typeof PushNotice>;

/** Values the server creates for itself once and must keep across restarts and backups (the VAPID key pair). */
export const ServerSetting = defineEntity({
  name: 'ServerSetting',
  tableName: 'server_setting',
  properties: {
    key: p.text().primary(),
    value: p.text(),
    createdAt: p.datetime(),
  },
});
export type ServerSetting = InferEntity<typeof ServerSetting>;

/**
 * One value of a training metric (a job's loss at a step), read from the job's log, its metric files or its GPU
 * sampler. `value` is null for NaN (SQLite keeps no NaN); ±Infinity is stored as it is. A series is kept under a
 * bound (metrics/service.ts): beyond it, its oldest half is thinned.
 */
export const MetricPoint = defineEntity({
  name: 'MetricPoint',
  tableName: 'metric_point',
  properties: {
    id: p.integer().primary().autoincrement(),
    jobId: p.integer(),
    /** The MetricSource it was read from: a file rewritten from its start has its points read again. */
    sourceId: p.integer(),
    name: p.text(),
    step: p.double(),
    value: p.double().nullable(),
    /** Epoch milliseconds: the source's own time when it has one, else when the server read the point. */
    time: p.double(),
  },
  indexes: [{ properties: ['jobId', 'name', 'step'] }, { properties: ['sourceId'] }],
});
export type MetricPoint = InferEntity<typeof MetricPoint>;

/**
 * A summary of one span of a series' steps, kept as its points are written (metrics/summary.ts): how many points fell
 * in it, and its first, last, lowest, highest and first non-finite point. A chart of a long series is drawn from these
 * (at most SUMMARY_SPAN spans per series) instead of every stored point.
 */
export const MetricBucket = defineEntity({
  name: 'MetricBucket',
  tableName: 'metric_bucket',
  properties: {
    jobId: p.integer().primary(),
    name: p.text().primary(),
    /** The span: steps from k·2^exponent up to (k+1)·2^exponent. */
    k: p.integer().primary(),
    exponent: p.integer(),
    count: p.integer(),
    /**
     * JSON: [first, last, low, high, odd], each [step, value, time] or null; a NaN or infinite value as the string
     * 'NaN', 'Infinity' or '-Infinity'. One text rather than fifteen columns: a growing series' last span is written
     * every second, and fewer values to bind measured 11 µs less server CPU per point stored (bench/metrics).
     */
    points: p.text(),
  },
});
export type MetricBucket = InferEntity<typeof MetricBucket>;

/** Where the reading of one file of a job stands: the bytes parsed (`offset`) and the parser's state after them. */
export const MetricSource = defineEntity({
  name: 'MetricSource',
  tableName: 'metric_source',
  properties: {
    id: p.integer().primary().autoincrement(),
    jobId: p.integer(),
    /** Absolute path on the cluster. */
    path: p.text(),
    format: p.text(),
    offset: p.bigint('number'),
    state: p.json<unknown>(),
    /** Read to its end after the job ended: never read again. */
    done: p.boolean(),
  },
  uniques: [{ properties: ['jobId', 'path'] }],
});
export type MetricSource = InferEntity<typeof MetricSource>;

/**
 * One of the user's jobs that Mission Control did not launch, as SLURM's accounting records it (the daily sacct read,
 * server/usage/): counted in the usage figures beside our own jobs (a job that is also one of ours is left out of them).
 */
export const SacctJob = defineEntity({
  name: 'SacctJob',
  tableName: 'sacct_job',
  properties: {
    cluster: p.text().primary(),
    slurmJobId: p.text().primary(),
    /** The user whose cluster login read it. */
    userId: p.integer().ignoreSchemaChanges('default'),
    state: p.text().$type<JobState>(),
    slurmState: p.text(),
    slurmPartition: p.text().nullable(),
    gpuCount: p.integer(),
    /** 'any': GPUs of no type SLURM names; null: no GPUs. */
    gpuType: p.text().nullable(),
    exitCode: p.integer().nullable(),
    submittedAt: p.datetime().nullable(),
    startedAt: p.datetime().nullable(),
    endedAt: p.datetime().nullable(),
    readAt: p.datetime(),
  },
  indexes: [
    { name: 'sacct_job_usage_started_index', properties: ['startedAt', 'endedAt', 'submittedAt', 'gpuCount', 'state', 'cluster', 'slurmPartition', 'gpuType', 'slurmJobId', 'userId'] },
    { name: 'sacct_job_usage_unstarted_index', expression: 'create index "sacct_job_usage_unstarted_index" on "sacct_job" ("ended_at", "state", "cluster", "gpu_type", "slurm_job_id", "user_id") where "started_at" is null' },
    { name: 'sacct_job_usage_running_index', expression: 'create index "sacct_job_usage_running_index" on "sacct_job" ("started_at", "gpu_count", "state", "cluster", "gpu_type", "slurm_job_id", "ended_at", "user_id") where "ended_at" is null' },
  ],
});
export type SacctJob = InferEntity<typeof SacctJob>;

/**
 * The ended jobs (ours and those launched elsewhere that are not ours) per week, group and state, with their GPU time:
 * kept by triggers on job and sacct_job (Migration20261205130000), never written by the server; read by
 * server/usage/queries.ts. project 0: launched elsewhere; gpuType 'none': no GPUs.
 */
export const UsageWeek = defineEntity({
  name: 'UsageWeek',
  tableName: 'usage_week',
  properties: {
    week: p.integer().primary(),
    cluster: p.text().primary(),
    projectId: p.integer().primary(),
    gpuType: p.text().primary(),
    state: p.text().primary(),
    // Last in the key: a range of weeks is read through it for one user or for all (an admin).
    userId: p.integer().primary(),
    jobs: p.integer(),
    gpuMs: p.bigint('number'),
  },
});
export type UsageWeek = InferEntity<typeof UsageWeek>;

/**
 * The started jobs' queue waits per period of their start (days 1: its UTC day; days 7: its week, Monday to Monday),
 * cluster, partition ('': the default), GPU type and wait bucket: kept as UsageWeek is.
 */
export const UsageWait = defineEntity({
  name: 'UsageWait',
  tableName: 'usage_wait',
  properties: {
    days: p.integer().primary(),
    period: p.integer().primary(),
    cluster: p.text().primary(),
    partition: p.text().primary(),
    gpuType: p.text().primary(),
    waitS: p.integer().primary(),
    userId: p.integer().primary(),
    jobs: p.integer(),
  },
});
export type UsageWait = InferEntity<typeof UsageWait>;

/** Where each login's daily sacct read stands: per cluster and user, as each user's login reads its own account's. */
export const SacctRead = defineEntity({
  name: 'SacctRead',
  tableName: 'sacct_read',
  properties: {
    cluster: p.text().primary(),
    userId: p.integer().primary(),
    /** Where the next read starts (sacct -S); null until a read succeeded. */
    since: p.datetime().nullable(),
    /** When the last read that succeeded ran; null: never. */
    readAt: p.datetime().nullable(),
    attemptedAt: p.datetime(),
    jobs: p.integer(),
    error: p.text().nullable(),
  },
});
export type SacctRead = InferEntity<typeof SacctRead>;

/** Listed explicitly: vitest's loader cannot discover entities by glob. */
export const entities = [ClusterCheck, User, Project, Job, Sweep, MetricPoint, MetricBucket, MetricSource, ApiToken, PushSubscription, PushNotice, ServerSetting, SacctJob, SacctRead, UsageWeek, UsageWait];
