// The sweeps domain: a Hydra multirun launched as ONE SLURM job array, followed through its tasks (each a Job row,
// kept by the poller and the lifecycle watcher like any job) and steered as one thing: cancel, throttle, relaunch
// the failed tasks. A submission is stored before sbatch runs (the sweep and every task, SUBMITTING, with the
// submission's tag in the array's working directory), so a lost sbatch answer is found by the tag, never submitted
// twice (jobs/submit.ts recovers tasks as it recovers jobs, one lookup per submission).
import type { EntityManager, FilterQuery, RequiredEntityData } from '@mikro-orm/knex';
import type { ClusterService } from '../clusters/service.js';
import { Job, Project, Sweep, type SweepRun } from '../db/entities.js';
import { databaseReason, type Orm } from '../db/orm.js';
import { ClusterUnreachableError, CommandTimeoutError, LaunchNotRecordedError, NotFoundError, SlurmError, SweepAlreadySubmittedError, ValidationError } from '../errors.js';
import type { PubSub } from '../events.js';
import { dependencyDirective } from '../jobs/dependencies.js';
import { checkLaunchable, checkPreviewedCommit, checkTag, createLaunchBase, newTag, projectRepoDir, type LaunchBaseOptions, type LaunchInput } from '../jobs/prepare.js';
import type { Preflight, PreflightService } from '../jobs/preflight.js';
import { latestTasks } from '../jobs/queries.js';
import type { JobService, SubmitPhase } from '../jobs/service.js';
import { changeOf, launchStored, saveAndAnnounce, submitFailed, submitted, submitUnanswered, type Change } from '../jobs/transitions.js';
import { oneAtATimePerKey } from '../lib/one-at-a-time.js';
import type { ProjectService } from '../projects/service.js';
import { arrayJobIdOf, cancelArrays, readMaxArraySize, setArrayThrottle } from '../slurm/arrays.js';
import { submitBatch } from '../slurm/jobs.js';
import { jobDirOf, jobPaths, submissionDirOf, taskDirOf, workspaceOfJobDir } from '../slurm/layout.js';
import { TERMINAL_STATES } from '../slurm/state.js';
import { componentLogger, errorFields } from '../lib/log.js';
import { planRuns } from './plan.js';
import { RELAUNCHED_STATES, recount, saveAndAnnounceSweep, sweepChangeOf } from './state.js';

export interface SweepLaunchInput {
  /** The settings every run shares (and what it waits for: dependsOn). */
  job: LaunchInput;
  /** The sweep's overrides: `seed=1,2,3`, `model=resnet,vit`, `lr=range(0.1,1,0.2)`, `model=glob(*)`. */
  sweep: string[];
  /** How many tasks may run at once; default min(runs, 64). */
  throttle: number | null;
}

export interface SweepPreview {
  tag: string;
  script: string;
  commit: string;
  warnings: string[];
  /** SLURM's verdict on the script (one task's resources), as for a single launch. */
  preflight: Preflight;
  /** Most runs a sweep may have on this cluster. */
  limit: number;
  throttle: number;
  varying: string[];
  keys: string[];
  runs: Array<{ index: number; overrides: string[]; words: string[] }>;
}

export interface SweepFilter {
  projectId?: number | null;
  cluster?: string | null;
  archived?: boolean | null;
}

/** The throttle when none is asked: enough to fill a partition, few enough to leave room for others. */
const DEFAULT_THROTTLE = 64;
/** Per cluster, how long its MaxArraySize answer is reused. */
const MAX_ARRAY_SIZE_TTL_MS = 60 * 60_000;
/** Task changes arrive in bursts (a poll of a 1,000-task array): a sweep is counted once per burst. */
const RECOUNT_DELAY_MS = 150;

/** sbatch's --array value: indexes as ranges (`0-5,9`), then the throttle. */
export function arraySpec(indexes: readonly number[], throttle: number): string {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let at = 0; at < sorted.length; ) {
    let end = at;
    while (end + 1 < sorted.length && sorted[end + 1] === sorted[end]! + 1) end++;
    parts.push(end === at ? `${sorted[at]}` : `${sorted[at]}-${sorted[end]}`);
    at = end + 1;
  }
  return `${parts.join(',')}%${throttle}`;
}

function checkThrottle(field: string, throttle: number, size: number): number {
  if (!Number.isSafeInteger(throttle) || throttle < 1 || throttle > size) throw new ValidationError(field, `must be a whole number from 1 to ${size} (the sweep's runs), not ${throttle}`);
  return throttle;
}

export interface SweepServiceOptions {
  orm: Orm;
  clusters: ClusterService;
  projects: ProjectService;
  events: PubSub;
  jobs: Pick<JobService, 'holdSubmissions'>;
  partitions: LaunchBaseOptions['partitions'];
  preflight: PreflightService;
  pollNow: (cluster: string) => Promise<void>;
  /** Test-only: told (and awaited) as a submission passes each step, as for single launches. */
  onSubmitPhase?: (phase: SubmitPhase, tag: string) => void | Promise<void>;
}

export type SweepService = ReturnType<typeof createSweepService>;

export function createSweepService({ orm, clusters, projects, events, jobs, partitions, preflight, pollNow, onSubmitPhase }: SweepServiceOptions) {
  const base = createLaunchBase({ clusters, projects, partitions });
  const storeOnce = oneAtATimePerKey();
  const maxArraySizes = new Map<string, { at: number; size: Promise<number> }>();

  /**
   * Most runs one sweep may have on a cluster: its configured cap, and MaxArraySize − 1 (indexes start at 0). The
   * controller's setting is the same for everyone: read once per cluster, over the launching user's login.
   */
  async function limitOf(cluster: string, userId: number): Promise<number> {
    let cached = maxArraySizes.get(cluster);
    if (!cached || Date.now() - cached.at > MAX_ARRAY_SIZE_TTL_MS) {
      cached = { at: Date.now(), size: clusters.transport(cluster, userId).then(readMaxArraySize) };
      maxArraySizes.set(cluster, cached);
      cached.size.catch(() => maxArraySizes.delete(cluster));
    }
    const maxArraySize = await cached.size;
    if (maxArraySize <= 1) throw new ValidationError('cluster', `${cluster} does not allow job arrays (MaxArraySize = ${maxArraySize}), so it cannot run sweeps`);
    return Math.min(clusters.config(cluster).maxSweepRuns, maxArraySize - 1);
  }

  async function prepare(em: EntityManager, input: SweepLaunchInput, tag: string | null) {
    const read = await base.read(em, input.job, tag);
    const limit = await limitOf(read.cluster.name, read.project.userId);
    const plan = await planRuns(read, input.job, input.sweep, limit, (index) => `multirun/${read.tag}/${index}`);
    const throttle = checkThrottle('throttle', input.throttle ?? Math.min(plan.runs.length, DEFAULT_THROTTLE), plan.runs.length);
    const dependency = await dependencyDirective(em, input.job.dependsOn, { cluster: read.cluster.name, sweepSize: plan.runs.length });
    const script = await base.script(read, [], { arrayTasks: true, dependency });
    return { ...read, limit, throttle, plan, script };
  }

  /** Save the task changes (announced per task), then count the sweep again. */
  async function saveTasks(em: EntityManager, sweep: Sweep, changes: Change[]): Promise<void> {
    await saveAndAnnounce(em, events, changes);
    const change = sweepChangeOf(sweep);
    await recount(em, sweep);
    await saveAndAnnounceSweep(em, events, change);
  }

  /**
   * sbatch for stored tasks (SUBMITTING) of one submission: their array indexes, each with its words. Refused: the
   * tasks fail with SLURM's message; unanswered: they stay SUBMITTING, for recovery by the tag.
   */
  async function submitArray(em: EntityManager, sweep: Sweep, tasks: Job[], submission: { tag: string; dir: string; cloneUrl: string; repoDir: string; script: string; runs: SweepRun[] }) {
    const changes = tasks.map(changeOf);
      let arrayJobId: string;
      try {
        await onSubmitPhase?.('sbatch', submission.tag);
        arrayJobId = await submitBatch(
          await clusters.transport(sweep.cluster, sweep.userId),
          { cloneUrl: submission.cloneUrl, repoDir: submission.repoDir, commitSha: sweep.commitSha, workDir: jobPaths(submission.dir).code, jobDir: submission.dir, script: submission.script },
          { array: arraySpec(tasks.map((task) => task.arrayIndex!), sweep.throttle), runs: new Map(tasks.map((task) => [task.arrayIndex!, submission.runs[task.arrayIndex!]!.words])) },
        );
      } catch (error) {
        if (error instanceof SlurmError) {
          for (const task of tasks) submitFailed(task, error.stderr.trim() || error.message);
        } else if (error instanceof ClusterUnreachableError || error instanceof CommandTimeoutError) {
          for (const task of tasks) submitUnanswered(task, `Not known yet whether SLURM got this sweep (${error.message}); it is looked up by its tag, never submitted twice.`);
        } else throw error;
        await saveTasks(em, sweep, changes);
        return;
      }
      try {
        await onSubmitPhase?.('answered', submission.tag);
        for (const task of tasks) submitted(task, `${arrayJobId}_${task.arrayIndex}`);
        sweep.arrayJobId ??= arrayJobId;
        await saveTasks(em, sweep, changes);
      } catch (error) {
        // SLURM has the array; the tasks' rows still say SUBMITTING, which the recovery adopts by the tag later.
        throw new LaunchNotRecordedError(sweep.cluster, arrayJobId, submission.tag, tasks[0]!.id, databaseReason(error));
      }
      await onSubmitPhase?.('saved', submission.tag);
  }

  /**
   * Stores one task row per index, SUBMITTING, in the submission directory `dir`, held from the recovery of stranded
   * launches until the caller releases them (sbatch answered, or the launch gave up).
   */
  function storeTasks(em: EntityManager, sweep: Sweep, dir: string, script: string, branch: string | null, tasks: Array<{ index: number; input: LaunchInput; parentId: number | null }>): { rows: Job[]; hold: { release(): void } } {
    const rows = tasks.map(({ index, input, parentId }) =>
      launchStored(em, {
        tag: newTag(),
        userId: sweep.userId,
        projectId: sweep.projectId,
        parentId,
        sweepId: sweep.id,
        arrayIndex: index,
        cluster: sweep.cluster,
        name: sweep.name,
        description: input.description,
        commitSha: sweep.commitSha,
        branch,
        input,
        script,
        jobDir: taskDirOf(dir, index),
      }),
    );
    return { rows, hold: jobs.holdSubmissions(rows.map((task) => task.tag)) };
  }

  async function getSweep(em: EntityManager, id: number): Promise<Sweep> {
    const sweep = await em.findOne(Sweep, { id });
    if (!sweep) throw new NotFoundError(`no sweep with id ${id}`);
    return sweep;
  }

  /** The arrays that still have tasks not ended, with those tasks. */
  async function activeArrays(em: EntityManager, sweep: Sweep): Promise<string[]> {
    const tasks = (await latestTasks(em, sweep.id, ['slurmJobId', 'state'])).filter((task) => task.slurmJobId && !TERMINAL_STATES.has(task.state));
    return [...new Set(tasks.map((task) => arrayJobIdOf(task.slurmJobId!)))];
  }

  /** The array of the sweep's first task SLURM got (as submitArray sets it: the first submission SLURM took). */
  async function firstArrayOf(em: EntityManager, sweep: Sweep): Promise<string | null> {
    const task = await em.findOne(Job, { sweepId: sweep.id, slurmJobId: { $ne: null } }, { orderBy: { id: 'asc' } });
    return task ? arrayJobIdOf(task.slurmJobId!) : null;
  }

  // Recounting on task changes: the poller and the lifecycle watcher change tasks as jobs; the sweep follows.
  const dueRecounts = new Set<number>();
  let recountTimer: NodeJS.Timeout | null = null;
  const subscription = events.subscribe('job:updated');
  let stopped = false;

  async function recountDue(): Promise<void> {
    recountTimer = null;
    const ids = [...dueRecounts];
    dueRecounts.clear();
    const em = orm.em.fork();
    for (const sweep of await em.find(Sweep, { id: { $in: ids } })) {
      const change = sweepChangeOf(sweep);
      await recount(em, sweep);
      // A submission whose sbatch answer was lost (the server died) had its tasks adopted by the recovery of launches
      // (jobs/submit.ts), which sets tasks only: the sweep's array is the first one its tasks were adopted from.
      sweep.arrayJobId ??= await firstArrayOf(em, sweep);
      await saveAndAnnounceSweep(em, events, change);
    }
  }

  return {
    limitOf,

    async preview(em: EntityManager, input: SweepLaunchInput, tag: string | null = null, requester = 'server'): Promise<SweepPreview> {
      const prepared = await prepare(em, input, tag);
      return {
        tag: prepared.tag,
        script: prepared.script,
        commit: prepared.project.headSha,
        warnings: prepared.warnings,
        preflight: await preflight.check(prepared.cluster.name, prepared.project.userId, prepared.script, prepared.resources.gpuType, requester),
        limit: prepared.limit,
        throttle: prepared.throttle,
        varying: prepared.plan.varying,
        keys: prepared.plan.keys,
        runs: prepared.plan.runs.map(({ index, overrides, words }) => ({ index, overrides, words })),
      };
    },

    async submit(em: EntityManager, input: SweepLaunchInput, tagArgument: string | null = null): Promise<Sweep> {
      const tag = checkTag(tagArgument ?? newTag());
      const stored = await storeOnce(tag, async () => {
        const existing = await em.findOne(Sweep, { tag });
        if (existing) throw new SweepAlreadySubmittedError(tag, existing.id);
        const { commit: previewed = null, ...settings } = input.job;
        checkPreviewedCommit(previewed, 'previewSweep', 'job.commit');
        const prepared = await prepare(em, { ...input, job: settings }, tag);
        checkLaunchable(prepared.project, previewed, settings.allowUnpushed, 'sweep', 'job.');
        await onSubmitPhase?.('prepared', tag);
        const now = new Date();
        // The sweep and its tasks in one transaction: a sweep without its tasks would wait forever, found by no
        // recovery. The sweep is written first inside it, as the tasks name its id.
        await em.begin();
        const sweep = em.create(Sweep, {
          tag,
          userId: prepared.project.userId,
          projectId: prepared.project.id,
          cluster: prepared.cluster.name,
          name: prepared.resources.jobName,
          commitSha: prepared.project.headSha,
          input: settings,
          definition: input.sweep,
          varying: prepared.plan.varying,
          size: prepared.plan.runs.length,
          runs: prepared.plan.runs.map(({ overrides, words }) => ({ overrides, words })),
          throttle: prepared.throttle,
          arrayJobId: null,
          retries: 0,
          counts: { SUBMITTING: prepared.plan.runs.length },
          archived: false,
          createdAt: now,
          updatedAt: now,
          endedAt: null,
        } as RequiredEntityData<Sweep>);
        let stored: ReturnType<typeof storeTasks> | null = null;
        try {
          await em.flush();
          const runs = prepared.plan.runs.map((run) => ({ index: run.index, input: { ...run.input, parentJobId: settings.parentJobId }, parentId: settings.parentJobId }));
          stored = storeTasks(em, sweep, prepared.jobDir, prepared.script, prepared.project.branch ?? null, runs);
          await em.commit();
        } catch (error) {
          stored?.hold.release();
          await em.rollback().catch(() => undefined);
          throw error;
        }
        const { rows: tasks, hold } = stored;
        // Saved: now announced (nothing is left to write).
        await saveAndAnnounce(em, events, tasks.map((job) => ({ job, before: null })));
        return { sweep, tasks, prepared, hold };
      });
      const { sweep, tasks, prepared, hold } = stored;
      try {
        await onSubmitPhase?.('stored', tag);
        await submitArray(em, sweep, tasks, { tag, dir: prepared.jobDir, cloneUrl: prepared.project.cloneUrl!, repoDir: prepared.repoDir, script: prepared.script, runs: sweep.runs });
      } finally {
        hold.release();
      }
      return sweep;
    },

    get: getSweep,

    /** Newest first; `after` is the id of the last sweep of the previous page. */
    async list(em: EntityManager, filter: SweepFilter, first: number, after: number | null): Promise<{ sweeps: Sweep[]; hasNextPage: boolean }> {
      const where: FilterQuery<Sweep> = {};
      if (filter.projectId != null) where.projectId = filter.projectId;
      if (filter.cluster) where.cluster = filter.cluster;
      if (filter.archived != null) where.archived = filter.archived;
      if (after !== null) where.id = { $lt: after };
      const limit = Math.min(Math.max(first, 1), 200);
      const sweeps = await em.find(Sweep, where, { orderBy: { id: 'desc' }, limit: limit + 1 });
      return { sweeps: sweeps.slice(0, limit), hasNextPage: sweeps.length > limit };
    },

    /** Per array index: the run's sweep values and its current task. */
    async runs(em: EntityManager, sweep: Sweep): Promise<Array<{ index: number; overrides: string[]; task: Job | null }>> {
      await em.populate(sweep, ['runs']);
      const tasks = new Map((await latestTasks(em, sweep.id)).map((task) => [task.arrayIndex!, task]));
      return sweep.runs.map((run, index) => ({ index, overrides: run.overrides, task: tasks.get(index) ?? null }));
    },

    /** scancel the sweep's arrays (or only their pending tasks), then read their states back. */
    async cancel(em: EntityManager, id: number, onlyPending: boolean): Promise<Sweep> {
      const sweep = await getSweep(em, id);
      const arrays = await activeArrays(em, sweep);
      if (arrays.length === 0) throw new ValidationError('id', `sweep ${id} has no task left to cancel`);
      await cancelArrays(await clusters.transport(sweep.cluster, sweep.userId), arrays, onlyPending);
      await pollNow(sweep.cluster);
      await em.refresh(sweep);
      return sweep;
    },

    /** How many of its tasks may run at once, from now on (SLURM applies it to tasks not started). */
    async setThrottle(em: EntityManager, id: number, max: number): Promise<Sweep> {
      const sweep = await getSweep(em, id);
      checkThrottle('max', max, sweep.size);
      const arrays = await activeArrays(em, sweep);
      if (arrays.length > 0) await setArrayThrottle(await clusters.transport(sweep.cluster, sweep.userId), arrays, max);
      const change = sweepChangeOf(sweep);
      sweep.throttle = max;
      sweep.updatedAt = new Date();
      return saveAndAnnounceSweep(em, events, change);
    },

    /**
     * Runs the failed tasks again, as a new job array of those indexes on the same commit, with the same script and
     * words, in a submission directory of its own (the failed tasks keep their logs). The new tasks replace the
     * failed ones in the sweep; each names the one it retries as its parent.
     */
    async relaunchFailed(em: EntityManager, id: number): Promise<Sweep> {
      const sweep = await getSweep(em, id);
      await em.populate(sweep, ['runs']);
      const failed = (await latestTasks(em, sweep.id)).filter((task) => RELAUNCHED_STATES.has(task.state));
      if (failed.length === 0) throw new ValidationError('id', `sweep ${id} has no failed task to relaunch`);
      const project = await em.findOne(Project, { id: sweep.projectId });
      if (!project?.cloneUrl) throw new ValidationError('id', `the project of sweep ${id} has no origin remote any more`);
      const first = failed[0]!;
      const firstDir = submissionDirOf(first.jobDir)!;
      const tag = newTag();
      const dir = jobDirOf(workspaceOfJobDir(firstDir), tag);
      // The same script in its own directory: the submission's tag appears in the script only in the layout's paths.
      const script = first.script.split(firstDir).join(dir);
      const change = sweepChangeOf(sweep);
      sweep.retries += 1;
      sweep.endedAt = null;
      const { rows: tasks, hold } = storeTasks(em, sweep, dir, script, first.branch ?? null, failed.map((task) => ({ index: task.arrayIndex!, input: task.input, parentId: task.id })));
      try {
        await saveAndAnnounce(em, events, tasks.map((job) => ({ job, before: null })));
        await recount(em, sweep);
        await saveAndAnnounceSweep(em, events, change);
        await onSubmitPhase?.('stored', tag);
        await submitArray(em, sweep, tasks, { tag, dir, cloneUrl: project.cloneUrl, repoDir: projectRepoDir(workspaceOfJobDir(firstDir), project), script, runs: sweep.runs });
      } finally {
        hold.release();
      }
      return sweep;
    },

    async setArchived(em: EntityManager, id: number, archived: boolean): Promise<Sweep> {
      const sweep = await getSweep(em, id);
      const change = sweepChangeOf(sweep);
      sweep.archived = archived;
      sweep.updatedAt = new Date();
      return saveAndAnnounceSweep(em, events, change);
    },

    start(): void {
      void (async () => {
        for await (const job of subscription) {
          if (job.sweepId == null || stopped) continue;
          dueRecounts.add(job.sweepId);
          recountTimer ??= setTimeout(() => void recountDue().catch((error: unknown) => componentLogger('sweeps').error(errorFields(error), 'sweeps not recounted')), RECOUNT_DELAY_MS);
        }
      })();
    },

    async stop(): Promise<void> {
      stopped = true;
      void subscription.return?.();
      if (recountTimer) {
        clearTimeout(recountTimer);
        await recountDue();
      }
    },
  };
}
