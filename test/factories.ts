// What tests need in a database or as a launch, written the way the services would leave them: one place, so a new
// column or input field is added here once, not in every test that makes a row.
import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/knex';
import { Job, Project } from '../server/db/entities.js';
import type { JobInput } from '../server/jobs/input.js';
import type { JobState } from '../server/slurm/state.js';

/** A synced, clean, pushed project named `name` (found again if it exists), user `userId`'s; flushed, so its id is set. */
export async function insertProject(em: EntityManager, name = 'vision', userId = 1): Promise<Project> {
  const existing = await em.findOne(Project, { name });
  if (existing) return existing;
  const project = em.create(Project, {
    userId,
    name,
    localPath: `/home/me/${name}`,
    headSha: 'a'.repeat(40),
    headSubject: 'Initial',
    dirty: false,
    pushed: true,
    settings: {} as Project['settings'],
    syncedAt: new Date(),
    createdAt: new Date(),
  });
  await em.flush();
  return project;
}

/** A complete launch input with the API's defaults: one node, no GPU, 1 CPU, the partition's default memory and time. */
export function jobInput(projectId: number, changes: Partial<JobInput> = {}): JobInput {
  return {
    projectId,
    cluster: 'alpha',
    name: null,
    description: '',
    partition: null,
    account: null,
    qos: null,
    nodes: 1,
    gpusPerNode: 0,
    gpuType: null,
    cpusPerTask: 1,
    memory: null,
    timeLimit: null,
    primary: null,
    groups: [],
    parameters: [],
    rawOverrides: '',
    parentJobId: null,
    allowUnpushed: false,
    ...changes,
  };
}

export interface JobRowFields {
  cluster: string;
  state: JobState;
  slurmJobId?: string | null;
  projectId?: number;
  jobDir?: string;
  name?: string;
  description?: string;
  tag?: string;
  /** Whose it is: user 1 (the owner every database starts with) unless given. */
  userId?: number;
}

/** A job record as the job service would have stored it after sbatch answered (not flushed; no remote command). */
export function createJobRow(em: EntityManager, row: JobRowFields): Job {
  const tag = row.tag ?? randomBytes(6).toString('hex');
  const now = new Date();
  return em.create(Job, {
    tag,
    userId: row.userId ?? 1,
    projectId: row.projectId ?? 1,
    cluster: row.cluster,
    name: row.name ?? `test-${tag}`,
    description: row.description ?? '',
    commitSha: '0'.repeat(40),
    input: jobInput(row.projectId ?? 1, { cluster: row.cluster }),
    script: '#!/bin/bash\n',
    jobDir: row.jobDir ?? `/nonexistent/jobs/${tag}`,
    slurmJobId: row.slurmJobId ?? null,
    state: row.state,
    archived: false,
    createdAt: now,
    updatedAt: now,
    submittedAt: now,
  });
}
