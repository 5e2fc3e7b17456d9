// The warning that a running job reaches its time limit soon, for the devices that asked (timeLimitPushes, off by
// default): looked for on the pending reminders' schedule, from the database alone. The moment is SLURM's own
// (Job.timeLimitAt: squeue's end of a running job, its start plus its limit or the partition's DefaultTime), never
// computed here. A job with resume checkpoints and requeues itself at its limit (its requeue is the news then), and a
// sweep's tasks share one limit (a push per task would be hundreds): neither is warned. Once per job
// (`job-time-limit:<job>`), claimed only when some device is due.
import { Job } from '../db/entities.js';
import type { Orm } from '../db/orm.js';
import type { JobState } from '../slurm/state.js';
import { hearsOf, type Delivery } from './delivery.js';
import { timeLimitMessage } from './messages.js';

/** How long before the limit the warning comes: time to save a checkpoint by hand or extend the job with an admin. */
export const TIME_LIMIT_WARNING_MINUTES = 15;

export const timeLimitKey = (jobId: number) => `job-time-limit:${jobId}`;

export async function checkTimeLimits({ orm, delivery, now }: { orm: Orm; delivery: Delivery; now: () => Date }): Promise<void> {
  const em = orm.em.fork();
  const recipients = (await delivery.recipients(em)).filter((recipient) => recipient.timeLimitPushes);
  if (recipients.length === 0) return;
  const at = now().getTime();
  const jobs = await em.find(
    Job,
    { state: 'RUNNING' satisfies JobState, sweepId: null, timeLimitAt: { $gt: new Date(at), $lte: new Date(at + TIME_LIMIT_WARNING_MINUTES * 60_000) } },
    { orderBy: { id: 'asc' } },
  );
  for (const job of jobs) {
    if (job.input.resume) continue;
    const due = recipients.filter((recipient) => hearsOf(recipient, job));
    if (due.length === 0 || !(await delivery.claim(timeLimitKey(job.id)))) continue;
    const message = timeLimitMessage(job, Math.max(1, Math.round((job.timeLimitAt!.getTime() - at) / 60_000)));
    await delivery.broadcast(due.map((recipient) => ({ recipient, message })));
  }
}
