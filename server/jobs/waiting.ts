// What the API says about a job that waits in the queue: why, in words (server/slurm/reasons.ts), for the resources it
// asked for. Its expected start is a column of the job, kept by the poll (transitions.ts).
import type { Job } from '../db/entities.js';
import { explainPendingReason, reasonCode, type PendingReason } from '../slurm/reasons.js';

export type { PendingReason };

/** SLURM's reason for a pending job, explained; null for a job that does not wait or whose wait SLURM gives no reason for. */
export function reasonExplained(job: Pick<Job, 'state' | 'reason' | 'input'>): PendingReason | null {
  if (job.state !== 'PENDING' || !job.reason) return null;
  const { input } = job;
  return explainPendingReason(job.reason, {
    nodes: input.nodes,
    gpusPerNode: input.gpusPerNode,
    gpuType: input.gpuType ?? null,
    cpusPerTask: input.cpusPerTask,
    partition: input.partition ?? null,
    account: input.account ?? null,
    qos: input.qos ?? null,
  });
}

/**
 * Why a pending job waits, in one line for a list: the explanation with SLURM's code after it ("waiting for 2 A100s
 * (Resources)"), or SLURM's own words when they are not known here; null as for reasonExplained.
 */
export function waitingFor(job: Pick<Job, 'state' | 'reason' | 'input'>): string | null {
  const explained = reasonExplained(job);
  if (!explained) return null;
  return explained.known ? `${explained.summary} (${reasonCode(explained.reason)})` : explained.reason;
}
