// The job lifecycle: preview → submit → follow → cancel / clone / archive, and reading a job's log.
import { randomBytes } from 'node:crypto';
import { raw, type EntityManager, type FilterQuery } from '@mikro-orm/sqlite';
import type { ClusterService } from '../clusters/service.js';
import { readScriptTemplate } from '../config.js';
import { Job } from '../db/entities.js';
import { databaseReason, type Orm } from '../db/orm.js';
import { ClusterUnreachableError, CommandTimeoutError, LaunchAlreadySubmittedError, LaunchNotRecordedError, NotFoundError, SlurmError, ValidationError } from '../errors.js';
import { readHydraConfig } from '../projects/hydra/config.js';
import { buildHydraArgs, slug, validateDescription, validateResources, type JobInput } from './input.js';
import { cleanLog, extractWandbUrl, logTailBytes, trimPartialFirstLine } from './log-text.js';
import type { ProjectService } from '../projects/service.js';
import { cancelJob, expandHome, findSubmission, homeDirectory, readOutputHead, readOutputTail, removeCheckout, submitBatch } from '../slurm/jobs.js';
import { readJobStates } from '../slurm/poll.js';
import { jobDirOf, jobPaths, repoDirOf } from '../slurm/layout.js';
import { renderScript } from '../slurm/script.js';
import { TERMINAL_STATES, type JobState } from '../slurm/state.js';
import { adopted, launchStored, lost, reportedBySlurm, saveAndAnnounce, submitFailed, submitted, submitUnanswered, visibleState } from './transitions.js';
import type { PubSub } from '../events.js';

export interface JobServiceOptions {
  orm: Orm;
  clusters: ClusterService;
  projects: ProjectService;
  events: PubSub;
  /** Test-only fault injection: runs after sbatch answered and before its id is saved. */
  afterSbatch?: (job: Job) => void | Promise<void>;
  /** Test-only: told (and awaited) as a launch passes each step, so a crash test can tell where a kill landed. */
  onSubmitPhase?: (phase: SubmitPhase, tag: string) => void | Promise<void>;
}

/**
 * The steps of submit(): validated (nothing stored yet), stored as SUBMITTING, sbatch about to run, sbatch answered
 * (its id not saved yet), saved.
 */
export type SubmitPhase = 'prepared' | 'stored' | 'sbatch' | 'answered' | 'saved';

export interface ScriptPreview {
  tag: string;
  script: string;
  /** Reasons the launch may not do what the user expects (dirty tree, unpushed commit). */
  warnings: string[];
}

export interface JobFilter {
  projectId?: number | null;
  states?: JobState[] | null;
  cluster?: string | null;
  archived?: boolean | null;
  search?: string | null;
}

export interface LineageNode {
  job: Job;
  parentId: number | null;
  /** What this launch changed relative to its parent, e.g. "gpusPerNode: 1 → 2", "optimizer.lr: 0.001 → 0.01". */
  changes: string[];
}

export interface JobLog {
  text: string;
  /** Size of the whole output file; null before the job wrote anything. */
  sizeBytes: number | null;
  truncated: boolean;
  wandbUrl: string | null;
}

const TAG = /^[a-z0-9]{12}$/;
/** A malformed tag is refused before any lookup: the driver inlines values into SQL, where a NUL ends the statement. */
function checkTag(tag: string): string {
  if (!TAG.test(tag)) throw new ValidationError('tag', 'must be 12 lowercase letters or digits, as previewScript returns it');
  return tag;
}
export const newTag = (): string => {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(12)].map((byte) => alphabet[byte % alphabet.length]).join('');
};

/** A search box's text, not a document; SQLite refuses LIKE patterns over 50,000 bytes anyway. */
const SEARCH_MAX_LENGTH = 500;

export type JobService = ReturnType<typeof createJobService>;

export function createJobService({ orm, clusters, projects, events, afterSbatch, onSubmitPhase }: JobServiceOptions) {
  /** Tags of the launches this process is submitting right now (stored, sbatch not answered yet). */
  const launching = new Set<string>();
  /** Per tag, the submit that is looking it up and storing it; a second submit of that tag waits for it to finish. */
  const storing = new Map<string, Promise<unknown>>();

  /** Saves, then tells subscribers, but only when something they see changed since `before`. */
  async function save(em: EntityManager, job: Job, before: string | null): Promise<Job> {
    await saveAndAnnounce(em, events, [{ job, before }]);
    return job;
  }

  const homes = new Map<string, Promise<string>>();

  async function workspaceOf(clusterName: string): Promise<string> {
    const cluster = clusters.config(clusterName);
    if (!cluster.workspace.startsWith('~')) return cluster.workspace;
    let home = homes.get(clusterName);
    if (!home) {
      home = homeDirectory(clusters.transport(clusterName));
      homes.set(clusterName, home);
      home.catch(() => homes.delete(clusterName));
    }
    return expandHome(cluster.workspace, await home);
  }

  async function prepare(em: EntityManager, input: JobInput, tagArgument: string | null) {
    const tag = checkTag(tagArgument ?? newTag());
    const project = await projects.get(em, input.projectId).catch((error: unknown) => {
      throw error instanceof NotFoundError ? new ValidationError('projectId', error.message) : error;
    });
    const cluster = clusters.config(input.cluster);
    const description = validateDescription(input);
    const resources = validateResources(input, project.name);
    const hydra = input.primary === null ? null : await readHydraConfig(project.localPath, input.primary);
    const hydraArgs = buildHydraArgs(input, hydra, project.settings, description);
    if (!project.cloneUrl) throw new ValidationError('projectId', `${project.name} has no origin remote: the cluster has nowhere to fetch its code from`);

    const warnings: string[] = [];
    if (project.dirty) warnings.push('The working tree has uncommitted changes: the job runs the last commit without them.');
    if (!project.pushed) warnings.push(`Commit ${project.headSha.slice(0, 8)} is on no remote branch: the cluster cannot fetch it unless it can reach this repository.`);

    const workspace = await workspaceOf(cluster.name);
    const jobDir = jobDirOf(workspace, tag);
    const settings = project.settings;
    const script = renderScript(await readScriptTemplate(cluster), {
      tag,
      ...resources,
      gpuRequestStyle: cluster.gpuRequestStyle,
      jobDir,
      modules: settings.modules,
      env: settings.env,
      condaEnv: settings.conda_env,
      venv: settings.venv,
      setup: settings.setup,
      installEditable: settings.install_editable,
      command: [settings.python, settings.train_script, ...hydraArgs],
    });
    return { tag, project, cluster, description, resources, script, warnings, jobDir, workDir: jobPaths(jobDir).code, repoDir: repoDirOf(workspace, `${slug(project.name) || 'project'}-${project.id}`) };
  }

  /**
   * Runs `work` (look the tag up, store the launch) for one submit of `tag` at a time: a second submit of the same
   * launch (a double tap, a client retrying a request whose answer it lost) waits for the first, then finds it stored.
   */
  async function storeOnce<T>(tag: string, work: () => Promise<T>): Promise<T> {
    for (let earlier = storing.get(tag); earlier; earlier = storing.get(tag)) await earlier.catch(() => undefined);
    const mine = work();
    storing.set(tag, mine);
    try {
      return await mine;
    } finally {
      if (storing.get(tag) === mine) storing.delete(tag);
    }
  }

  /** Validates a launch and stores it as SUBMITTING; from then on it is this process's to finish (`launching`). */
  async function store(em: EntityManager, input: JobInput, tag: string) {
    const existing = await em.findOne(Job, { tag });
    if (existing) throw new LaunchAlreadySubmittedError(tag, existing.id);
    const prepared = await prepare(em, input, tag);
    if (!prepared.project.pushed && !input.allowUnpushed) {
      throw new ValidationError('allowUnpushed', `commit ${prepared.project.headSha.slice(0, 8)} is on no remote branch; push it, or set allowUnpushed if the cluster can reach this repository`);
    }
    if (input.parentJobId !== null) await get(em, input.parentJobId).catch(() => {
      throw new ValidationError('parentJobId', `no job with id ${input.parentJobId}`);
    });
    // Until sbatch has answered, this launch is ours to finish: the lookup of stranded launches leaves it alone.
    launching.add(tag);
    try {
      await onSubmitPhase?.('prepared', tag);
      const job = launchStored(em, {
        tag,
        projectId: prepared.project.id,
        parentId: input.parentJobId,
        cluster: prepared.cluster.name,
        name: prepared.resources.jobName,
        description: prepared.description,
        commitSha: prepared.project.headSha,
        branch: prepared.project.branch,
        input,
        script: prepared.script,
        jobDir: prepared.jobDir,
      });
      await save(em, job, null);
      return { job, prepared };
    } catch (error) {
      launching.delete(tag);
      throw error;
    }
  }

  async function get(em: EntityManager, id: number): Promise<Job> {
    const job = await em.findOne(Job, { id });
    if (!job) throw new NotFoundError(`no job with id ${id}`);
    return job;
  }

  /** A launch whose sbatch outcome is unknown: adopt the SLURM job it became, or record that none exists. */
  async function resolveSubmitting(job: Job): Promise<void> {
    const slurmJobId = await findSubmission(clusters.transport(job.cluster), job.jobDir, jobPaths(job.jobDir).code);
    if (slurmJobId) adopted(job, slurmJobId);
    else submitFailed(job, 'The server stopped before sbatch answered, and SLURM has no job from this launch.');
  }

  async function refreshJob(job: Job): Promise<void> {
    if (job.state === 'SUBMITTING') await resolveSubmitting(job);
    if (!job.slurmJobId) return;
    const [status] = await readJobStates(clusters.transport(job.cluster), [job.slurmJobId]);
    if (status) reportedBySlurm(job, status);
    else lost(job);
  }

  function inputDifferences(parent: JobInput, child: JobInput): string[] {
    const flatten = (input: JobInput): Map<string, string> => {
      const entries = new Map<string, string>();
      for (const key of ['cluster', 'partition', 'account', 'qos', 'nodes', 'gpusPerNode', 'gpuType', 'cpusPerTask', 'memory', 'timeLimit', 'primary', 'rawOverrides'] as const) {
        entries.set(key, JSON.stringify(input[key]));
      }
      for (const choice of input.groups) entries.set(choice.group, JSON.stringify(choice.option));
      for (const parameter of input.parameters) entries.set(parameter.path, JSON.stringify(parameter.value));
      return entries;
    };
    const before = flatten(parent);
    const after = flatten(child);
    const keys = [...new Set([...before.keys(), ...after.keys()])];
    return keys.filter((key) => before.get(key) !== after.get(key)).map((key) => `${key}: ${before.get(key) ?? '(default)'} → ${after.get(key) ?? '(default)'}`);
  }

  return {
    get,

    async preview(em: EntityManager, input: JobInput, tag: string | null = null): Promise<ScriptPreview> {
      const prepared = await prepare(em, input, tag);
      return { tag: prepared.tag, script: prepared.script, warnings: prepared.warnings };
    },

    /**
     * Stores the job first (SUBMITTING, with its tag), then submits. sbatch refusing the job is recorded as
     * SUBMIT_FAILED with SLURM's message; a lost connection leaves SUBMITTING, resolved by tag later — never a
     * second sbatch, since one that timed out can still have run.
     */
    async submit(em: EntityManager, input: JobInput, tagArgument: string | null = null): Promise<Job> {
      const tag = checkTag(tagArgument ?? newTag());
      const { job, prepared } = await storeOnce(tag, () => store(em, input, tag));
      try {
        const before = visibleState(job);
        await onSubmitPhase?.('stored', job.tag);

        let slurmJobId: string;
        try {
          await onSubmitPhase?.('sbatch', job.tag);
          slurmJobId = await submitBatch(clusters.transport(job.cluster), {
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
            return save(em, job, before);
          }
          if (error instanceof ClusterUnreachableError || error instanceof CommandTimeoutError) {
            submitUnanswered(job, `Not known yet whether SLURM got this job (${error.message}); it is looked up by its tag, never submitted twice.`);
            return save(em, job, before);
          }
          throw error;
        }
        try {
          await afterSbatch?.(job);
          await onSubmitPhase?.('answered', job.tag);
          submitted(job, slurmJobId);
          await save(em, job, before);
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
    },

    /**
     * Launches left between storing and hearing back from sbatch, by a previous run of the server or by a connection
     * that dropped during sbatch: adopted by their tag, or marked failed. At start, then every minute while any is
     * left (the lookup fails while its cluster is down). Launches in progress here are not touched.
     */
    async recoverSubmissions(): Promise<number> {
      const em = orm.em.fork();
      const pending = (await em.find(Job, { state: 'SUBMITTING' })).filter((job) => !launching.has(job.tag));
      for (const job of pending) {
        const before = visibleState(job);
        await resolveSubmitting(job).catch((error: unknown) => {
          console.warn(`job ${job.id}: could not look up its submission yet: ${(error as Error).message}`);
        });
        await save(em, job, before);
      }
      return pending.length;
    },

    async refresh(em: EntityManager, id: number): Promise<Job> {
      const job = await get(em, id);
      const before = visibleState(job);
      await refreshJob(job);
      return save(em, job, before);
    },

    /** scancel, then read the state back so the answer shows what SLURM did. */
    async cancel(em: EntityManager, id: number): Promise<Job> {
      const job = await get(em, id);
      const before = visibleState(job);
      if (job.state === 'SUBMITTING') await resolveSubmitting(job);
      if (TERMINAL_STATES.has(job.state)) {
        await save(em, job, before);
        throw new ValidationError('id', `job ${id} has already ended (${job.state})`);
      }
      await cancelJob(clusters.transport(job.cluster), job.slurmJobId!);
      await refreshJob(job);
      return save(em, job, before);
    },

    /** With cleanup, the job's code checkout on the cluster is removed too (a finished job only). */
    async setArchived(em: EntityManager, id: number, archived: boolean, cleanup = false): Promise<Job> {
      const job = await get(em, id);
      if (cleanup) {
        if (!TERMINAL_STATES.has(job.state)) throw new ValidationError('cleanup', `job ${id} is still ${job.state}; its checkout is in use`);
        await removeCheckout(clusters.transport(job.cluster), jobPaths(job.jobDir).code);
      }
      const before = visibleState(job);
      job.archived = archived;
      job.updatedAt = new Date();
      return save(em, job, before);
    },

    /** The input to launch this job again: same settings, the project's current commit (the original is kept apart). */
    async template(em: EntityManager, id: number): Promise<{ input: JobInput; originalCommit: string; currentCommit: string }> {
      const job = await get(em, id);
      const project = await projects.get(em, job.projectId);
      return { input: { ...job.input, parentJobId: job.id }, originalCommit: job.commitSha, currentCommit: project.headSha };
    },

    async lastInput(em: EntityManager, projectId: number): Promise<JobInput | null> {
      const [job] = await em.find(Job, { projectId }, { orderBy: { id: 'desc' }, limit: 1 });
      return job ? { ...job.input, parentJobId: null } : null;
    },

    async lineage(em: EntityManager, projectId: number): Promise<LineageNode[]> {
      await projects.get(em, projectId, { includeDeleted: true });
      const jobs = await em.find(Job, { projectId }, { orderBy: { id: 'asc' } });
      const byId = new Map(jobs.map((job) => [job.id, job]));
      return jobs.map((job) => {
        const parent = job.parentId == null ? undefined : byId.get(job.parentId);
        return { job, parentId: parent ? parent.id : null, changes: parent ? inputDifferences(parent.input, job.input) : [] };
      });
    },

    /** Newest first; `after` is the id of the last job of the previous page. */
    async list(em: EntityManager, filter: JobFilter, first: number, after: number | null): Promise<{ jobs: Job[]; hasNextPage: boolean }> {
      if (filter.search && filter.search.length > SEARCH_MAX_LENGTH) {
        throw new ValidationError('search', `must be at most ${SEARCH_MAX_LENGTH} characters (this one has ${filter.search.length})`);
      }
      // The SQLite driver inlines values into the statement, where a NUL ends it; no stored name, description or
      // cluster holds one (validation refuses them), so such a filter matches nothing.
      if ([filter.search, filter.cluster].some((text) => text?.includes('\0'))) return { jobs: [], hasNextPage: false };
      const where: FilterQuery<Job> = {};
      if (filter.projectId != null) where.projectId = filter.projectId;
      if (filter.states?.length) where.state = { $in: filter.states };
      if (filter.cluster) where.cluster = filter.cluster;
      if (filter.archived != null) where.archived = filter.archived;
      if (after !== null) where.id = { $lt: after };
      if (filter.search?.trim()) {
        // SQLite's LIKE has no escape character unless told: say ESCAPE so % and _ typed by the user are literal.
        const pattern = `%${filter.search.trim().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        where.$or = [{ [raw(`name like ? escape '\\'`, [pattern])]: [] }, { [raw(`description like ? escape '\\'`, [pattern])]: [] }];
      }
      const limit = Math.min(Math.max(first, 1), 200);
      const jobs = await em.find(Job, where, { orderBy: { id: 'desc' }, limit: limit + 1 });
      return { jobs: jobs.slice(0, limit), hasNextPage: jobs.length > limit };
    },

    /** The end of the job's output, bounded in bytes, cleaned for reading; finds and keeps the W&B run URL. */
    async log(em: EntityManager, id: number, tailBytes: number, collapseProgress: boolean): Promise<JobLog> {
      const job = await get(em, id);
      const bytes = logTailBytes(tailBytes);
      const transport = clusters.transport(job.cluster);
      const tail = await readOutputTail(transport, jobPaths(job.jobDir).output, bytes);
      const { text } = trimPartialFirstLine(Buffer.from(tail.text), tail.startsAtFileStart);
      if (!job.wandbUrl && tail.size !== null) {
        // W&B prints the run URL near the start, which a long log's tail no longer holds.
        const start = tail.startsAtFileStart ? tail.text : await readOutputHead(transport, jobPaths(job.jobDir).output, 64 * 1024);
        const before = visibleState(job);
        job.wandbUrl = extractWandbUrl(start) ?? extractWandbUrl(text);
        await save(em, job, before);
      }
      return { text: cleanLog(text, { collapseProgress }), sizeBytes: tail.size, truncated: !tail.startsAtFileStart, wandbUrl: job.wandbUrl ?? null };
    },
  };
}
