// Steering one job on its cluster: read its state again, cancel it, archive it (and free its checkout).
import type { EntityManager } from '@mikro-orm/knex';
import type { ClusterService } from '../clusters/service.js';
import type { Job } from '../db/entities.js';
import { ValidationError } from '../errors.js';
import type { PubSub } from '../events.js';
import { cancelJob, removeCheckout } from '../slurm/jobs.js';
import { jobPaths } from '../slurm/layout.js';
import { readJobStates } from '../slurm/poll.js';
import { TERMINAL_STATES } from '../slurm/state.js';
import { getJob } from './queries.js';
import { resolveSubmitting } from './submit.js';
import { changeOf, lost, reportedBySlurm, saveAndAnnounceJob, type Change } from './transitions.js';

/** Asks SLURM about the job now, by the poller's command and rule (slurm/poll.ts). */
async function refreshFromSlurm(clusters: ClusterService, job: Job): Promise<void> {
  if (job.state === 'SUBMITTING') await resolveSubmitting(clusters, job);
  if (!job.slurmJobId) return;
  const [status] = await readJobStates(await clusters.transport(job.cluster, job.userId), [job.slurmJobId]);
  if (status) reportedBySlurm(job, status);
  else lost(job);
}

export function createJobControl({ clusters, events }: { clusters: ClusterService; events: PubSub }) {
  const save = (em: EntityManager, change: Change): Promise<Job> => saveAndAnnounceJob(em, events, change);

  return {
    async refresh(em: EntityManager, id: number): Promise<Job> {
      const job = await getJob(em, id);
      const change = changeOf(job);
      await refreshFromSlurm(clusters, job);
      return save(em, change);
    },

    /** scancel, then read the state back so the answer shows what SLURM did. */
    async cancel(em: EntityManager, id: number): Promise<Job> {
      const job = await getJob(em, id);
      const change = changeOf(job);
      if (job.state === 'SUBMITTING') await resolveSubmitting(clusters, job);
      if (TERMINAL_STATES.has(job.state)) {
        await save(em, change);
        throw new ValidationError('id', `job ${id} has already ended (${job.state})`);
      }
      await cancelJob(await clusters.transport(job.cluster, job.userId), job.slurmJobId!);
      await refreshFromSlurm(clusters, job);
      return save(em, change);
    },

    /** With cleanup, the job's code checkout on the cluster is removed too (a finished job only). */
    async setArchived(em: EntityManager, id: number, archived: boolean, cleanup = false): Promise<Job> {
      const job = await getJob(em, id);
      if (cleanup) {
        if (!TERMINAL_STATES.has(job.state)) throw new ValidationError('cleanup', `job ${id} is still ${job.state}; its checkout is in use`);
        await removeCheckout(await clusters.transport(job.cluster, job.userId), jobPaths(job.jobDir).code);
      }
      const change = changeOf(job);
      job.archived = archived;
      job.updatedAt = new Date();
      return save(em, change);
    },
  };
}
