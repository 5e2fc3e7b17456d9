// The notice that a job was put back in the queue under its SLURM id (its own script at its time limit, preemption,
// an admin): once per restart (`job-requeued:<job>:<restart>`), told when the restart is announced (job:updated
// carries Job.restarts), whether its script's record or the queue told it first; on by default, each device may turn
// it off (requeuePushes). The job's end push stays for its real end: a requeue is no end (jobs/transitions.ts).
import type { JobSnapshot } from '../events.js';
import type { Orm } from '../db/orm.js';
import { TERMINAL_STATES } from '../slurm/state.js';
import type { Delivery } from './delivery.js';
import { jobRequeuedMessage } from './messages.js';

export const jobRequeuedKey = (job: Pick<JobSnapshot, 'id' | 'restarts'>) => `job-requeued:${job.id}:${job.restarts}`;

export function createJobRequeuedNotices({ orm, delivery }: { orm: Orm; delivery: Delivery }) {
  return async function onJobRequeued(job: JobSnapshot): Promise<void> {
    // A sweep's tasks are preempted together: hundreds of pushes would tell one thing; its end push tells the outcome.
    if (!job.restarts || TERMINAL_STATES.has(job.state) || job.sweepId != null) return;
    // Claimed even when nobody listens, so a device subscribing later is not told old news.
    if (!(await delivery.claim(jobRequeuedKey(job)))) return;
    const due = (await delivery.listeningTo(orm.em.fork(), job)).filter((recipient) => recipient.requeuePushes);
    if (due.length === 0) return;
    const message = jobRequeuedMessage(job);
    await delivery.broadcast(due.map((recipient) => ({ recipient, message })));
  };
}
