// What a launch would run, before anything is stored: its tag, its checked input, the exact sbatch script and its
// paths on the cluster. Preview and submit both go through here, so a preview shows exactly what a submit sends.
import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/sqlite';
import type { ClusterService } from '../clusters/service.js';
import { readScriptTemplate } from '../config.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { findHydraConfigDir, readHydraConfig } from '../projects/hydra/config.js';
import type { ProjectService } from '../projects/service.js';
import { expandHome, homeDirectory } from '../slurm/jobs.js';
import { isJobTag, jobDirOf, jobPaths, repoDirOf } from '../slurm/layout.js';
import { renderScript } from '../slurm/script.js';
import { buildHydraArgs, slug, validateDescription, validateResources, type JobInput } from './input.js';

export interface ScriptPreview {
  tag: string;
  script: string;
  /** Reasons the launch may not do what the user expects (dirty tree, unpushed commit). */
  warnings: string[];
}

/** A malformed tag is refused before any lookup: the driver inlines values into SQL, where a NUL ends the statement. */
export function checkTag(tag: string): string {
  if (!isJobTag(tag)) throw new ValidationError('tag', 'must be 12 lowercase letters or digits, as previewScript returns it');
  return tag;
}

export const newTag = (): string => {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(12)].map((byte) => alphabet[byte % alphabet.length]).join('');
};

export type PrepareLaunch = ReturnType<typeof createLaunchPreparer>;
export type PreparedLaunch = Awaited<ReturnType<PrepareLaunch>>;

export function createLaunchPreparer({ clusters, projects }: { clusters: ClusterService; projects: ProjectService }) {
  /** Per cluster, its $HOME, asked once: `~/…` workspaces become the absolute paths #SBATCH lines need. */
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

  return async function prepare(em: EntityManager, input: JobInput, tagArgument: string | null) {
    const tag = checkTag(tagArgument ?? newTag());
    const project = await projects.get(em, input.projectId).catch((error: unknown) => {
      throw error instanceof NotFoundError ? new ValidationError('projectId', error.message) : error;
    });
    const cluster = clusters.config(input.cluster);
    const description = validateDescription(input);
    const resources = validateResources(input, project.name);
    const hydra = input.primary === null ? null : await readHydraConfig(project.localPath, input.primary, input.groups);
    // Only to word the refusal of groups or parameters sent without a primary.
    const configDir = hydra === null && (input.groups.length > 0 || input.parameters.length > 0) ? await findHydraConfigDir(project.localPath) : null;
    const hydraArgs = buildHydraArgs(input, hydra, project.settings, description, configDir);
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
  };
}
