// What a launch would run, before anything is stored: its tag, its checked input, the exact sbatch script and its
// paths on the cluster. Preview and submit both go through here, so a preview shows exactly what a submit sends.
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { EntityManager } from '@mikro-orm/knex';
import type { ClusterService } from '../clusters/service.js';
import { readScriptTemplate } from '../config.js';
import { NoClusterLoginError, NotFoundError, ValidationError } from '../errors.js';
import { findHydraConfigDir, readHydraConfig } from '../projects/hydra/config.js';
import type { ProjectService } from '../projects/service.js';
import { SETTINGS_FILE } from '../projects/settings.js';
import { expandHome, homeDirectory } from '../slurm/jobs.js';
import { isJobTag, jobDirOf, jobPaths, repoDirOf } from '../slurm/layout.js';
import { renderScript, type ScriptInput } from '../slurm/script.js';
import type { PartitionFacts } from '../clusters/limits.js';
import { buildHydraArgs, slug, validateDescription, validateResources, validateResume, type JobInput } from './input.js';
import { within } from '../lib/within.js';
import { checkAgainstPartition } from './limits.js';
import type { Preflight } from './preflight.js';

export interface ScriptPreview {
  tag: string;
  script: string;
  /** The full sha of the commit the job checks out: HEAD when the preview read the repository. */
  commit: string;
  /** Reasons the launch may not do what the user expects (dirty tree, unpushed commit). */
  warnings: string[];
  /** SLURM's own verdict on the script (`sbatch --test-only`), before anything is launched. */
  preflight: Preflight;
}

/** A malformed tag is refused before any lookup: the driver inlines values into SQL, where a NUL ends the statement. */
export function checkTag(tag: string): string {
  if (!isJobTag(tag)) throw new ValidationError('tag', 'must be 12 lowercase letters or digits, as previewScript returns it');
  return tag;
}

/** What a launch sends: the settings, and the commit its preview showed (submit refuses when HEAD has moved since). */
export interface LaunchInput extends JobInput {
  commit?: string | null;
}

export const shortSha = (sha: string): string => sha.slice(0, 8);

/** How long a launch waits for the cluster's partitions (cached for a minute; a cluster that is down is not waited for). */
const PARTITIONS_WAIT_MS = 4000;

/** An error's first line, bounded: a warning in a preview, not a transcript. */
const firstLine = (message: string) => {
  const line = message.split('\n')[0]!.trim();
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
};

/** A commit as git names it in full: SHA-1 or SHA-256. */
const FULL_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** Refuses a commit sent back from a preview that no preview could have returned, before anything is read. */
export function checkPreviewedCommit(previewed: string | null, preview: 'previewScript' | 'previewSweep', field = 'commit'): void {
  if (previewed !== null && !FULL_SHA.test(previewed)) throw new ValidationError(field, `must be the full commit sha ${preview} returned (40 or 64 lowercase hex digits), not ${JSON.stringify(previewed.slice(0, 80))}`);
}

/**
 * What a submit checks of a prepared launch (a job or a sweep, `what` words it): the form was computed from the work
 * tree at the preview, so a HEAD that moved since would run other code with it; and the cluster must reach the commit.
 */
export function checkLaunchable(project: { headSha: string; pushed: boolean }, previewed: string | null, allowUnpushed: boolean, what: 'job' | 'sweep', prefix = ''): void {
  if (previewed !== null && previewed !== project.headSha) {
    throw new ValidationError(`${prefix}commit`, `HEAD is now ${shortSha(project.headSha)}, not ${shortSha(previewed)} as previewed: preview again to see what the ${what} would run`);
  }
  if (!project.pushed && !allowUnpushed) {
    throw new ValidationError(`${prefix}allowUnpushed`, `commit ${shortSha(project.headSha)} is on no remote branch; push it, or set allowUnpushed if the cluster can reach this repository`);
  }
}

/** At most this many changed files are named in a warning; the rest are counted. */
const NAMED_FILES = 5;

/**
 * The warning for a dirty work tree. The form and its validation read the work tree, the job runs HEAD: changes to
 * what the form reads (the Hydra config directory, the settings file, the train script) are named, since the form
 * shows values the job will not get.
 */
function dirtyWarning(headSha: string, changedFiles: readonly string[], read: { configDir: string | null; trainScript: string }): string {
  const trainScript = posix.normalize(read.trainScript);
  const readByForm = (file: string) =>
    file === SETTINGS_FILE ||
    file === trainScript ||
    (read.configDir !== null && (read.configDir === '' ? file.endsWith('.yaml') : file.startsWith(`${read.configDir}/`)));
  const named = changedFiles.filter(readByForm);
  if (named.length === 0) return `The working tree has uncommitted changes: the job runs commit ${shortSha(headSha)} without them.`;
  const more = named.length > NAMED_FILES ? ` and ${named.length - NAMED_FILES} more` : '';
  return `Uncommitted changes to ${named.slice(0, NAMED_FILES).join(', ')}${more}: the form shows them, but the job runs commit ${shortSha(headSha)} without them. Commit them (and preview again) to launch them.`;
}

/** The project's shared bare clone in a cluster's workspace. */
export const projectRepoDir = (workspace: string, project: { id: number; name: string }): string => repoDirOf(workspace, `${slug(project.name) || 'project'}-${project.id}`);

export const newTag = (): string => {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(12)].map((byte) => alphabet[byte % alphabet.length]).join('');
};

export type PrepareLaunch = ReturnType<typeof createLaunchPreparer>;
export type PreparedLaunch = Awaited<ReturnType<PrepareLaunch>>;
export type LaunchBase = Awaited<ReturnType<ReturnType<typeof createLaunchBase>['read']>>;

/**
 * What every launch (a single job, a sweep) reads and checks before its Hydra arguments: the repository as it is
 * now, the cluster, the resources, the composed Hydra config of its own group choices, the warnings and the paths on
 * the cluster; and the sbatch script of a command. A sweep composes each run's group choices itself.
 */
export interface LaunchBaseOptions {
  clusters: ClusterService;
  projects: ProjectService;
  /** Each partition's limits from the cached cluster check (clusters/gpu.ts); throws when the cluster cannot be read. */
  partitions: (cluster: string, userId: number) => Promise<readonly PartitionFacts[]>;
}

export function createLaunchBase({ clusters, projects, partitions }: LaunchBaseOptions) {
  /** Per login (each user's account has its own), its $HOME, asked once: `~/…` workspaces become the absolute paths #SBATCH lines need. */
  const homes = new Map<string, Promise<string>>();

  async function workspaceOf(clusterName: string, userId: number): Promise<string> {
    const cluster = clusters.config(clusterName);
    // Asked first whatever the workspace: a user without a login on the cluster is told so, under the form's field,
    // before anything runs.
    const login = await clusters.loginOf(clusterName, userId).catch((error: unknown) => {
      throw error instanceof NoClusterLoginError ? new ValidationError('cluster', error.message) : error;
    });
    if (!cluster.workspace.startsWith('~')) return cluster.workspace;
    let home = homes.get(login.key);
    if (!home) {
      home = clusters.transport(clusterName, userId).then(homeDirectory);
      homes.set(login.key, home);
      home.catch(() => homes.delete(login.key));
    }
    return expandHome(cluster.workspace, await home);
  }

  async function read(em: EntityManager, input: LaunchInput, tagArgument: string | null) {
    const tag = checkTag(tagArgument ?? newTag());
    // The repository as it is now, not as last synced: the form and validation below read this work tree, so the
    // job must run this HEAD (the row is updated too, so the project's page shows what a launch runs).
    const { project, changedFiles } = await projects.refresh(em, input.projectId).catch((error: unknown) => {
      throw error instanceof NotFoundError ? new ValidationError('projectId', error.message) : error;
    });
    const cluster = clusters.config(input.cluster);
    const description = validateDescription(input);
    const resources = validateResources(input, project.name);
    const resume = validateResume(input);
    // Checked against what the partition allows; a cluster that cannot be read now is left to SLURM (and said so).
    const limits = await within(
      partitions(cluster.name, project.userId).then(
        (facts) => ({ facts, error: null as string | null }),
        (error: unknown) => ({ facts: [] as readonly PartitionFacts[], error: firstLine(error instanceof Error ? error.message : String(error)) }),
      ),
      PARTITIONS_WAIT_MS,
      () => ({ facts: [], error: `no answer within ${PARTITIONS_WAIT_MS / 1000} s` }),
    );
    checkAgainstPartition(resources, limits.facts, cluster.name, cluster.gpuRequestStyle);
    const hydra = input.primary === null ? null : await readHydraConfig(project.localPath, input.primary, input.groups);
    // Only to word the refusal of groups or parameters sent without a primary.
    const configDir = hydra === null && (input.groups.length > 0 || input.parameters.length > 0) ? await findHydraConfigDir(project.localPath) : null;
    if (!project.cloneUrl) throw new ValidationError('projectId', `${project.name} has no origin remote: the cluster has nowhere to fetch its code from`);

    const warnings: string[] = [];
    if (project.dirty) warnings.push(dirtyWarning(project.headSha, changedFiles, { configDir: hydra?.configDir ?? null, trainScript: project.settings.train_script }));
    if (!project.pushed) warnings.push(`Commit ${shortSha(project.headSha)} is on no remote branch: the cluster cannot fetch it unless it can reach this repository.`);
    if (limits.error !== null) warnings.push(`Not checked against ${cluster.name}'s partition limits (${limits.error}): SLURM will say at launch.`);

    const workspace = await workspaceOf(cluster.name, project.userId);
    const jobDir = jobDirOf(workspace, tag);
    return { tag, project, cluster, description, resources, resume, hydra, configDir, warnings, jobDir, workDir: jobPaths(jobDir).code, repoDir: projectRepoDir(workspace, project) };
  }

  /** The sbatch script of a launch that runs `args` after the project's python and train script. */
  async function script(base: LaunchBase, args: string[], options: Pick<ScriptInput, 'arrayTasks' | 'dependency'> = {}): Promise<string> {
    const settings = base.project.settings;
    return renderScript(await readScriptTemplate(base.cluster), {
      tag: base.tag,
      ...base.resources,
      gpuRequestStyle: base.cluster.gpuRequestStyle,
      jobDir: base.jobDir,
      modules: settings.modules,
      env: settings.env,
      condaEnv: settings.conda_env,
      venv: settings.venv,
      setup: settings.setup,
      installEditable: settings.install_editable,
      command: [settings.python, settings.train_script, ...args],
      resume: base.resume,
      ...options,
    });
  }

  return { read, script };
}

export function createLaunchPreparer(options: LaunchBaseOptions & { dependencies: (em: EntityManager, input: LaunchInput) => Promise<string | null> }) {
  const base = createLaunchBase(options);
  return async function prepare(em: EntityManager, input: LaunchInput, tagArgument: string | null) {
    const read = await base.read(em, input, tagArgument);
    const hydraArgs = buildHydraArgs(input, read.hydra, read.project.settings, read.description, read.configDir);
    const script = await base.script(read, hydraArgs, { dependency: await options.dependencies(em, input) });
    return { ...read, script };
  };
}
