// The notice that a job which waited long in the queue has started, for the devices that asked (startedAfterWaitMinutes,
// off by default): a job waiting hours for GPUs is the one its owner stops watching. Told when the start is announced
// (job:updated), from the database alone; once per job (`job-started:<job>`), claimed only when some device is due, so
// a repeated announcement, a later change of the running job or a restart never tells it twice.
// A sweep's tasks start together or one by one as a throttle allows: the sweep is told once per submission, when its
// first task starts after such a wait (`job-started:sweep:<sweep>:<retries>`), never once per task.
import type { JobSnapshot } from '../events.js';
import { Sweep } from '../db/entities.js';
import type { Orm } from '../db/orm.js';
import type { Delivery } from './delivery.js';
import { jobStartedMessage } from './messages.js';

export const jobStartedKey = (job: Pick<JobSnapshot, 'id'>) => `job-started:${job.id}`;
const sweepStartedKey = (sweep: Pick<Sweep, 'id' | 'retries'>) => `job-started:sweep:${sweep.id}:${sweep.retries}`;

/** How long the job waited in the queue: from its submission (its creation before sbatch answered) to its start. */
export function waitedMs(job: Pick<JobSnapshot, 'startedAt' | 'submittedAt' | 'createdAt'>): number | null {
  if (!job.startedAt) return null;
  return new Date(job.startedAt).getTime() - new Date(job.submittedAt ?? job.createdAt).getTime();
}

export function createJobStartedNotices({ orm, delivery }: { orm: Orm; delivery: Delivery }) {
  return async function onJobStarted(job: JobSnapshot): Promise<void> {
    // A job that started and ended between two polls is told by its end.
    if (job.state !== 'RUNNING') return;
    const waited = waitedMs(job);
    if (waited === null) return;
    const em = orm.em.fork();
    const due = (await delivery.listeningTo(em, job)).filter((recipient) => recipient.startedAfterWaitMinutes != null && waited >= recipient.startedAfterWaitMinutes * 60_000);
    if (due.length === 0) return;
    if (job.sweepId == null) {
      if (!(await delivery.claim(jobStartedKey(job)))) return;
      const message = jobStartedMessage(job, waited);
      await delivery.broadcast(due.map((recipient) => ({ recipient, message })));
      return;
    }
    const sweep = await em.findOne(Sweep, { id: job.sweepId }, { fields: ['id', 'name', 'varying', 'size', 'retries'] });
    if (!sweep || !(await delivery.claim(sweepStartedKey(sweep)))) return;
    const message = jobStartedMessage(job, waited, sweep);
    await delivery.broadcast(due.map((recipient) => ({ recipient, message })));
  };
}
