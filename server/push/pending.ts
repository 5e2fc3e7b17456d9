// Reminders of jobs still pending after the minutes each device chose: looked for on a schedule, from the database
// alone, each told once per device. A sweep is reminded of once, as one thing, while none of its tasks has started
// (stuck in the queue as a whole); tasks held back by the sweep's throttle while others run are what a throttle is
// for, and a reminder per task would be a thousand pushes.
import { Job, PushNotice, Sweep } from '../db/entities.js';
import type { Orm } from '../db/orm.js';
import type { JobState } from '../slurm/state.js';
import { hearsOf, type Addressed, type Delivery, type Recipient } from './delivery.js';
import { jobPendingMessage, sweepPendingMessage } from './messages.js';
import type { PushMessage } from './web-push.js';
import { pendingNoticePrefix } from './subscriptions.js';

/** A job or a sweep waiting: `about` tells it apart in its notice's key (job ids as they always were). */
interface Waiting {
  about: string;
  userId: number;
  projectId: number;
  waitedMs: number;
  message: (minutes: number) => PushMessage;
}

// A device's keys as they always were (job-pending:<device>:<about>), a destination's by its name.
const pendingKey = (recipient: Recipient, about: string) => `${pendingNoticePrefix(recipient.id)}${about}`;

/** Sweeps none of whose current tasks has started, waiting as long as their longest-waiting task. */
async function waitingSweeps(orm: Orm, tasks: Job[], at: number): Promise<Waiting[]> {
  const longest = new Map<number, Job>();
  const waited = (job: Job) => at - (job.submittedAt ?? job.createdAt).getTime();
  for (const task of tasks) {
    const known = longest.get(task.sweepId!);
    if (!known || waited(task) > waited(known)) longest.set(task.sweepId!, task);
  }
  if (longest.size === 0) return [];
  const sweeps = await orm.em.fork().find(Sweep, { id: { $in: [...longest.keys()] }, endedAt: null }, { orderBy: { id: 'asc' } });
  return sweeps
    .filter((sweep) => (Object.entries(sweep.counts) as Array<[JobState, number]>).every(([state, count]) => state === 'PENDING' || !count))
    .map((sweep) => {
      const task = longest.get(sweep.id)!;
      // Per relaunch: a relaunch of every task that waits again is news again.
      return { about: `sweep:${sweep.id}:${sweep.retries}`, userId: sweep.userId, projectId: sweep.projectId, waitedMs: waited(task), message: (minutes) => sweepPendingMessage(sweep, minutes, task.reason ?? null) };
    });
}

export async function checkPending({ orm, delivery, now }: { orm: Orm; delivery: Delivery; now: () => Date }): Promise<void> {
  const em = orm.em.fork();
  const recipients = (await delivery.recipients(em)).filter((recipient) => recipient.pendingAfterMinutes !== null);
  if (recipients.length === 0) return;
  const at = now().getTime();
  const shortest = Math.min(...recipients.map((recipient) => recipient.pendingAfterMinutes!));
  // createdAt comes before submittedAt, so this finds every job that can be due; the exact start is checked below.
  const pending = await em.find(Job, { state: 'PENDING' satisfies JobState, createdAt: { $lte: new Date(at - shortest * 60_000) } }, { orderBy: { id: 'asc' } });
  const waiting: Waiting[] = [
    ...pending
      .filter((job) => job.sweepId == null)
      .map((job): Waiting => ({ about: String(job.id), userId: job.userId, projectId: job.projectId, waitedMs: at - (job.submittedAt ?? job.createdAt).getTime(), message: (minutes) => jobPendingMessage(job, minutes) })),
    ...(await waitingSweeps(orm, pending.filter((job) => job.sweepId != null), at)),
  ];
  const due: Array<{ recipient: Recipient; waiting: Waiting; minutes: number }> = [];
  for (const recipient of recipients) {
    for (const item of waiting) {
      if (item.waitedMs >= recipient.pendingAfterMinutes! * 60_000 && hearsOf(recipient, item)) {
        due.push({ recipient, waiting: item, minutes: Math.floor(item.waitedMs / 60_000) });
      }
    }
  }
  if (due.length === 0) return;
  const told = new Set<string>();
  const keys = due.map(({ recipient, waiting: item }) => pendingKey(recipient, item.about));
  for (let start = 0; start < keys.length; start += 500) {
    for (const notice of await em.find(PushNotice, { key: { $in: keys.slice(start, start + 500) } })) told.add(notice.key);
  }
  const deliveries: Addressed[] = [];
  for (const { recipient, waiting: item, minutes } of due) {
    const key = pendingKey(recipient, item.about);
    if (!told.has(key) && (await delivery.claim(key))) deliveries.push({ recipient, message: item.message(minutes) });
  }
  await delivery.broadcast(deliveries);
}
