// Submitting a launch exactly once. The job is stored first (SUBMITTING, with its tag), then submitted: sbatch
// refusing it is recorded as SUBMIT_FAILED with SLURM's message; a lost connection leaves SUBMITTING, resolved by the
// tag later, never by a second sbatch, since one that timed out can still have run.
import type { EntityManager } from '@mikro-orm/knex';
import type { ClusterService } from '../clusters/service.js';
import { Job } from '../db/entities.js';
import { databaseReason, type Orm } from '../db/orm.js';
import { ClusterUnreachableError, CommandTimeoutError, LaunchAlreadySubmittedError, LaunchNotRecordedError, SlurmError, ValidationError } from '../errors.js';
import type { PubSub } from '../events.js';
import { oneAtATimePerKey } from '../lib/one-at-a-time.js';
import { findSubmission, submitBatch } from '../slurm/jobs.js';
import { jobPaths, submissionDirOf } from '../slurm/layout.js';
import { checkLaunchable, checkPreviewedCommit, checkTag, newTag, type LaunchInput, type PrepareLaunch } from './prepare.js';
import { componentLogger, errorFields } from '../lib/log.js';
import { getJob } from './queries.js';
import { adopted, changeOf, launchStored, saveAndAnnounceJob, submitFailed, submitted, submitUnanswered, type Change } from './transitions.js';

/**
 * The steps of submit(): validated (nothing stored yet), stored as SUBMITTING, sbatch about to run, sbatch answered
 * (its id not saved yet), saved.
 */
export type SubmitPhase = 'prepared' | 'stored' | 'sbatch' | 'answered' | 'saved';

export interface SubmissionOptions {
  orm: Orm;
  clusters: ClusterService;
  events: PubSub;
  prepare: PrepareLaunch;
  /** Test-only fault injection: runs after sbatch answered and before its id is saved. */
  afterSbatch?: (job: Job) => void | Promise<void>;
  /** Test-only: told (and awaited) as a launch passes each step, so a crash test can tell where a kill landed. */
  onSubmitPhase?: (phase: SubmitPhase, tag: string) => void | Promise<void>;
  /** Other replicas launch on the same database (a group server's): their launches in progress are left to them. */
  replicas?: boolean;
}

/** SLURM's answers about submissions, by submission directory, for one pass over stranded launches. */
export type SubmissionLookups = Map<string, Promise<string | null>>;

/**
 * A launch whose sbatch outcome is unknown: adopt the SLURM job it became, or record that none exists. A sweep's task
 * is looked up by its array's submission (one lookup per submission in a pass, with `lookups`) and adopts its task id.
 */
export async function resolveSubmitting(clusters: ClusterService, job: Job, lookups: SubmissionLookups = new Map()): Promise<void> {
  const dir = submissionDirOf(job.jobDir) ?? job.jobDir;
  let lookup = lookups.get(dir);
  if (!lookup) {
    lookup = clusters.transport(job.cluster, job.userId).then((transport) => findSubmission(transport, dir, jobPaths(dir).code));
    lookups.set(dir, lookup);
  }
  const slurmJobId = await lookup;
  if (slurmJobId) adopted(job, job.arrayIndex === null ? slurmJobId : `${slurmJobId}_${job.arrayIndex}`);
  else submitFailed(job, 'The server stopped before sbatch answered, and SLURM has no job from this launch.');
}

/** Longer than any launch's steps take (the checkout's push and sbatch, each under its command timeout). */
const OTHER_REPLICA_LAUNCH_MS = 10 * 60_000;

/**
 * Launches left between storing and hearing back from sbatch, by a previous run of the server or by a connection
 * that dropped during sbatch: adopted by their tag, or marked failed. At start, then every minute while any is
 * left (the lookup fails while its cluster is down). Launches in progress here (`launching`) are not touched, nor,
 * among replicas, launches stored in the last OTHER_REPLICA_LAUNCH_MS: another replica may be waiting for their sbatch.
 * (A lease in the database would say so exactly, and let a dead replica's launches be adopted sooner: not built yet.)
 */
async function recoverSubmissions({ orm, clusters, events, replicas }: Pick<SubmissionOptions, 'orm' | 'clusters' | 'events' | 'replicas'>, launching: ReadonlySet<string>): Promise<number> {
  const em = orm.em.fork();
  const settled = Date.now() - OTHER_REPLICA_LAUNCH_MS;
  const pending = (await em.find(Job, { state: 'SUBMITTING' })).filter((job) => !launching.has(job.tag) && (!replicas || job.updatedAt.getTime() < settled));
  const lookups: SubmissionLookups = new Map();
  for (const job of pending) {
    const change = changeOf(job);
    await resolveSubmitting(clusters, job, lookups).catch((error: unknown) => {
      componentLogger('jobs').warn({ jobId: job.id, cluster: job.cluster, ...errorFields(error) }, 'could not look up its submission yet');
    });
    await saveAndAnnounceJob(em, events, change);
  }
  return pending.length;
}

export function createSubmissions({ orm, clusters, events, prepare, afterSbatch, onSubmitPhase, replicas }: SubmissionOptions) {
  /** Tags of the launches this process is submitting right now (stored, sbatch not answered yet). */
  const launching = new Set<string>();
  /**
   * Looking a tag up and storing its launch, for one submit of the tag at a time: a second submit of the same launch
   * (a double tap, a client retrying a request whose answer it lost) waits for the first, then finds it stored.
   */
  const storeOnce = oneAtATimePerKey();

  const save = (em: EntityManager, change: Change): Promise<Job> => saveAndAnnounceJob(em, events, change);

  /** Validates a launch and stores it as SUBMITTING; from then on it is this process's to finish (`launching`). */
  async function store(em: EntityManager, input: LaunchInput, tag: string) {
    const existing = await em.findOne(Job, { tag });
    if (existing) throw new LaunchAlreadySubmittedError(tag, existing.id);
    const { commit: previewed = null, ...settings } = input;
    checkPreviewedCommit(previewed, 'previewScript');
    const prepared = await prepare(em, settings, tag);
    checkLaunchable(prepared.project, previewed, input.allowUnpushed, 'job');
    if (input.parentJobId !== null) await getJob(em, input.parentJobId).catch(() => {
      throw new ValidationError('parentJobId', `no job with id ${input.parentJobId}`);
    });
    // Until sbatch has answered, this launch is ours to finish: the lookup of stranded launches leaves it alone.
    launching.add(tag);
    try {
      await onSubmitPhase?.('prepared', tag);
      const job = launchStored(em, {
        tag,
        // A launch is its project's user's (who else may launch in it is the API's to say: server/access/ownership.ts).
        userId: prepared.project.userId,
        projectId: prepared.project.id,
        parentId: input.parentJobId,
        cluster: prepared.cluster.name,
        name: prepared.resources.jobName,
        description: prepared.description,
        commitSha: prepared.project.headSha,
        branch: prepared.project.branch,
        // Without the previewed commit: it is a check, not a setting (a clone of this job is previewed anew).
        input: settings,
        script: prepared.script,
        jobDir: prepared.jobDir,
      });
      await save(em, { job, before: null });
      return { job, prepared };
    } catch (error) {
      launching.delete(tag);
      throw error;
    }
  }

  async function submit(em: EntityManager, input: LaunchInput, tagArgument: string | null = null): Promise<Job> {
    const tag = checkTag(tagArgument ?? newTag());
    const { job, prepared } = await storeOnce(tag, () => store(em, input, tag));
    try {
      const change = changeOf(job);
      await onSubmitPhase?.('stored', job.tag);

      let slurmJobId: string;
      try {
        await onSubmitPhase?.('sbatch', job.tag);
        slurmJobId = await submitBatch(await clusters.transport(job.cluster, job.userId), {
          cloneUrl: prepared.project.cloneUrl!,
          repoDir: prepared.repoDir,
          commitSha: job.commitSha,
          workDir: prepared.workDir,
          jobDir: job.jobDir,
          script: job.script,
        });
      } catch (error) {
        if (error instanceof SlurmError) {
          submitFailed(job, error.stderr.trim() || error.message);
          return save(em, change);
        }
        if (error instanceof ClusterUnreachableError || error instanceof CommandTimeoutError) {
          submitUnanswered(job, `Not known yet whether SLURM got this job (${error.message}); it is looked up by its tag, never submitted twice.`);
          return save(em, change);
        }
        throw error;
      }
      try {
        await afterSbatch?.(job);
        await onSubmitPhase?.('answered', job.tag);
        submitted(job, slurmJobId);
        await save(em, change);
      } catch (error) {
        // A full disk, a database gone read-only: SLURM has the job, and its row still says SUBMITTING, which
        // recoverSubmissions adopts by the tag once this launch is over and the database takes writes again.
        throw new LaunchNotRecordedError(job.cluster, slurmJobId, job.tag, job.id, databaseReason(error));
      }
      await onSubmitPhase?.('saved', job.tag);
      return job;
    } finally {
      launching.delete(tag);
    }
  }

  return {
    submit,
    recoverSubmissions: () => recoverSubmissions({ orm, clusters, events, replicas }, launching),
    /**
     * For a launch made elsewhere (a sweep's tasks): its tags are left alone by the recovery until `release` is
     * called, once sbatch has answered or the launch gave up.
     */
    hold(tags: readonly string[]): { release(): void } {
      for (const tag of tags) launching.add(tag);
      return { release: () => tags.forEach((tag) => launching.delete(tag)) };
    },
  };
}
