// Launching again: a job's settings as the input of a clone, a project's last input, and the tree of clones with
// what each one changed.
import type { EntityManager } from '@mikro-orm/knex';
import { Job } from '../db/entities.js';
import type { ProjectService } from '../projects/service.js';
import type { JobInput } from './input.js';
import { getJob } from './queries.js';

export interface LineageNode {
  job: Job;
  parentId: number | null;
  /** What this launch changed relative to its parent, e.g. "gpusPerNode: 1 → 2", "optimizer.lr: 0.001 → 0.01". */
  changes: string[];
}

const COMPARED_FIELDS = ['cluster', 'partition', 'account', 'qos', 'nodes', 'gpusPerNode', 'gpuType', 'cpusPerTask', 'memory', 'timeLimit', 'primary', 'rawOverrides'] as const;

function inputDifferences(parent: JobInput, child: JobInput): string[] {
  const flatten = (input: JobInput): Map<string, string> => {
    const entries = new Map<string, string>();
    // A value left out (memory, time limit, partition…) is the cluster's default.
    for (const key of COMPARED_FIELDS) entries.set(key, input[key] === null || input[key] === undefined ? '(default)' : JSON.stringify(input[key]));
    for (const choice of input.groups) entries.set(choice.group, JSON.stringify(choice.option));
    for (const parameter of input.parameters) entries.set(parameter.path, JSON.stringify(parameter.value));
    return entries;
  };
  const before = flatten(parent);
  const after = flatten(child);
  const keys = [...new Set([...before.keys(), ...after.keys()])];
  return keys.filter((key) => before.get(key) !== after.get(key)).map((key) => `${key}: ${before.get(key) ?? '(default)'} → ${after.get(key) ?? '(default)'}`);
}

export function createLineage({ projects }: { projects: ProjectService }) {
  return {
    /** The input to launch this job again: same settings, the project's current commit (the original is kept apart). */
    async template(em: EntityManager, id: number): Promise<{ input: JobInput; originalCommit: string; currentCommit: string }> {
      const job = await getJob(em, id);
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
  };
}
