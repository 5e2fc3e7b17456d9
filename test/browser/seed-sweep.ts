// A large ended sweep written straight into a server's database, for what needs a thousand rows to look at or to
// time (the sweep screen's bench and screenshots): submitting one would hold the lab for minutes. Every task has
// ended, so the poller never asks the cluster about its made-up SLURM ids.
import type { RequiredEntityData } from '@mikro-orm/core';
import { Job, Sweep, type SweepCounts } from '../../server/db/entities.js';
import type { JobInput } from '../../server/jobs/input.js';
import type { JobState } from '../../server/slurm/state.js';
import { recount } from '../../server/sweeps/state.js';
import type { createServices } from '../../server/services.js';

type Services = ReturnType<typeof createServices>;

const LEARNING_RATES = ['0.1', '0.03', '0.01', '0.003', '0.001', '3e-4', '1e-4', '3e-5', '1e-5', '3e-6'];

/** Ended tasks mostly completed, some failed, timed out or cancelled, at fixed positions (the same every run). */
function stateOf(index: number): { state: JobState; exitCode: number | null } {
  if (index % 23 === 5) return { state: 'FAILED', exitCode: 3 };
  if (index % 97 === 11) return { state: 'TIMEOUT', exitCode: null };
  if (index % 61 === 7) return { state: 'CANCELLED', exitCode: null };
  return { state: 'COMPLETED', exitCode: 0 };
}

/** A sweep of `size` runs (seed × lr) of the project, every task ended; returns its id. */
export async function seedEndedSweep(services: Services, projectId: number, size = 1000): Promise<number> {
  const em = services.orm.em.fork();
  const project = await services.projects.get(em, projectId, { includeDeleted: true });
  const now = Date.now();
  const started = new Date(now - 3600_000);
  const input: JobInput = {
    projectId, cluster: 'lab', name: null, description: '', primary: 'train', groups: [], parameters: [{ path: 'sleep_seconds', value: 1 }], rawOverrides: '', overrides: [],
    parentJobId: null, dependsOn: [], allowUnpushed: false, partition: null, account: null, qos: null, nodes: 1, gpusPerNode: 0, gpuType: null, cpusPerTask: 1, memory: '200M', timeLimit: '5:00',
  } as JobInput;
  const runs = Array.from({ length: size }, (_, index) => {
    const overrides = [`seed=${Math.floor(index / LEARNING_RATES.length)}`, `lr=${LEARNING_RATES[index % LEARNING_RATES.length]}`];
    return { overrides, words: overrides };
  });
  const tag = `seed-sweep-${now}`;
  const sweep = em.create(Sweep, {
    tag,
    userId: project.userId,
    projectId,
    cluster: 'lab',
    name: `${project.name}-big-sweep`,
    commitSha: project.headSha,
    input,
    definition: [`seed=range(0,${Math.ceil(size / LEARNING_RATES.length)})`, `lr=${LEARNING_RATES.join(',')}`],
    varying: ['seed', 'lr'],
    size,
    runs,
    throttle: 64,
    arrayJobId: '990000',
    retries: 0,
    counts: {} as SweepCounts,
    archived: false,
    createdAt: started,
    updatedAt: started,
    endedAt: null,
  } as RequiredEntityData<Sweep>);
  await em.flush();
  for (let index = 0; index < size; index++) {
    const { state, exitCode } = stateOf(index);
    const startedAt = new Date(started.getTime() + index * 2_000);
    const elapsedSeconds = 60 + ((index * 37) % 900);
    em.create(Job, {
      tag: `${tag}-${index}`,
      userId: project.userId,
      projectId,
      parentId: null,
      sweepId: sweep.id,
      arrayIndex: index,
      cluster: 'lab',
      name: sweep.name,
      description: '',
      commitSha: project.headSha,
      branch: project.branch,
      input: { ...input, overrides: runs[index]!.overrides },
      script: '#!/bin/bash\n',
      jobDir: `/tmp/${tag}/${index}`,
      slurmJobId: `990000_${index}`,
      state,
      slurmState: state,
      reason: null,
      exitCode,
      signal: null,
      nodeList: 'cpu-01',
      submitError: null,
      wandbUrl: null,
      archived: false,
      createdAt: started,
      updatedAt: started,
      submittedAt: started,
      startedAt,
      endedAt: new Date(startedAt.getTime() + elapsedSeconds * 1000),
      elapsedSeconds,
      lastSeenAt: started,
    } as RequiredEntityData<Job>);
  }
  await em.flush();
  await recount(em, sweep);
  await em.flush();
  return sweep.id;
}
