// The one notice of a sweep's end, to every device not muting its project: once per end, so a relaunch of its failed
// tasks that ends again is news again (the key counts the relaunches), while a repeated event, a later change of the
// ended sweep (archived) or a restart is not. The sweeps domain announces the end only once it is saved.
import { Job } from '../db/entities.js';
import type { Orm } from '../db/orm.js';
import type { SweepSnapshot } from '../events.js';
import type { Delivery } from './delivery.js';
import { sweepEndMessage } from './messages.js';

export const sweepEndKey = (sweep: Pick<SweepSnapshot, 'id' | 'retries'>) => `sweep-end:${sweep.id}:${sweep.retries}`;

export function createSweepEndNotices({ orm, delivery }: { orm: Orm; delivery: Delivery }) {
  return async function onSweepUpdated(sweep: SweepSnapshot): Promise<void> {
    if (!sweep.endedAt) return;
    // Claimed even when nobody listens, so a device subscribing later is not told old news.
    if (!(await delivery.claim(sweepEndKey(sweep)))) return;
    const em = orm.em.fork();
    const recipients = (await delivery.listeningTo(em, sweep)).filter((recipient) => recipient.sweepEndPushes);
    if (recipients.length === 0) return;
    // A sweep that sbatch refused outright: its refusal is the news, read from one of its tasks.
    const refused = sweep.counts.SUBMIT_FAILED ? await em.findOne(Job, { sweepId: sweep.id, state: 'SUBMIT_FAILED' }, { orderBy: { id: 'desc' }, fields: ['submitError'] }) : null;
    const message = sweepEndMessage(sweep, refused?.submitError ?? null);
    await delivery.broadcast(recipients.map((recipient) => ({ recipient, message })));
  };
}
