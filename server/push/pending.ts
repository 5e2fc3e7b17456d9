// Reminders of jobs still pending after the minutes each device chose: looked for on a schedule, from the database
// alone, each told once per device.
import { Job, PushNotice, PushSubscription } from '../db/entities.js';
import type { Orm } from '../db/orm.js';
import type { JobState } from '../slurm/state.js';
import type { Addressed, Delivery } from './delivery.js';
import { jobPendingMessage } from './messages.js';
import { pendingNoticePrefix } from './subscriptions.js';

const pendingKey = (subscriptionId: number, jobId: number) => `${pendingNoticePrefix(subscriptionId)}${jobId}`;

export async function checkPending({ orm, delivery, now }: { orm: Orm; delivery: Delivery; now: () => Date }): Promise<void> {
  const em = orm.em.fork();
  const subscriptions = await em.find(PushSubscription, { pendingAfterMinutes: { $ne: null } }, { orderBy: { id: 'asc' } });
  if (subscriptions.length === 0) return;
  const at = now().getTime();
  const shortest = Math.min(...subscriptions.map((subscription) => subscription.pendingAfterMinutes!));
  // createdAt comes before submittedAt, so this finds every job that can be due; the exact start is checked below.
  const pending = await em.find(Job, { state: 'PENDING' satisfies JobState, createdAt: { $lte: new Date(at - shortest * 60_000) } }, { orderBy: { id: 'asc' } });
  const due: Array<{ subscription: PushSubscription; job: Job; minutes: number }> = [];
  for (const subscription of subscriptions) {
    for (const job of pending) {
      const waitedMs = at - (job.submittedAt ?? job.createdAt).getTime();
      if (waitedMs >= subscription.pendingAfterMinutes! * 60_000 && !subscription.mutedProjectIds.includes(job.projectId)) {
        due.push({ subscription, job, minutes: Math.floor(waitedMs / 60_000) });
      }
    }
  }
  if (due.length === 0) return;
  const told = new Set<string>();
  const keys = due.map(({ subscription, job }) => pendingKey(subscription.id, job.id));
  for (let start = 0; start < keys.length; start += 500) {
    for (const notice of await em.find(PushNotice, { key: { $in: keys.slice(start, start + 500) } })) told.add(notice.key);
  }
  const deliveries: Addressed[] = [];
  for (const { subscription, job, minutes } of due) {
    const key = pendingKey(subscription.id, job.id);
    if (!told.has(key) && (await delivery.claim(key))) deliveries.push({ subscription, message: jobPendingMessage(job, minutes) });
  }
  await delivery.broadcast(deliveries);
}
