// The notice of a job's end: once per job, to every device not muting its project, with the last line of its log
// when that can be read in time. The job is announced only once its end is saved (jobs/transitions.ts), so the log
// read finds the ended job and what it learns (the W&B link) is saved with the end.
// A sweep's task is no such job: its sweep's end is the one notice (sweep-end.ts). Only a device that asked for them
// hears of a task that failed, and of at most MAX_FAILED_TASK_PUSHES per sweep and relaunch, never of a thousand.
import type { JobSnapshot } from '../events.js';
import { PushNotice, Sweep } from '../db/entities.js';
import type { Orm } from '../db/orm.js';
import type { JobService } from '../jobs/service.js';
import { createChannelLimiter } from '../lib/channel-limiter.js';
import { componentLogger } from '../lib/log.js';
import { RELAUNCHED_STATES } from '../sweeps/state.js';
import type { Delivery } from './delivery.js';
import { jobEndMessage, lastLogLine, sweepTaskValues, taskFailedMessage } from './messages.js';

const LOG_TAIL_BYTES = 4096;
// Log reads share the cluster's SSH channels with the poller: a burst of job ends must not take all of them.
const LOG_READ_CONCURRENCY = 2;

const log = componentLogger('push');

export const jobEndKey = (jobId: number) => `job-end:${jobId}`;

/** Failed-task pushes per sweep and relaunch: enough to act on, and the sweep's end tells the rest. */
export const MAX_FAILED_TASK_PUSHES = 10;
const failedTaskSlotPrefix = (sweepId: number, retries: number) => `sweep-task-failed:${sweepId}:${retries}:`;

export interface JobEndOptions {
  orm: Orm;
  jobs: Pick<JobService, 'log'>;
  delivery: Delivery;
  /** Reading an ended job's last log line, queueing included; the push goes without the line after that. */
  logTimeoutMs: number;
}

export function createJobEndNotices({ orm, jobs, delivery, logTimeoutMs }: JobEndOptions) {
  const logReads = createChannelLimiter(LOG_READ_CONCURRENCY);

  async function readLastLine(job: JobSnapshot): Promise<string | null> {
    if (!job.slurmJobId || job.state === 'SUBMIT_FAILED') return null;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<null>((resolve) => {
      timer = setTimeout(() => {
        timedOut = true;
        resolve(null);
      }, logTimeoutMs);
    });
    const read = (async () => {
      const release = await logReads.acquire();
      try {
        if (timedOut) return null;
        return lastLogLine((await jobs.log(orm.em.fork(), job.id, LOG_TAIL_BYTES, true)).text);
      } finally {
        release();
      }
    })();
    // The read goes on after the deadline (its command has its own timeout); its failure then is nobody's concern.
    read.catch(() => undefined);
    try {
      const line = await Promise.race([read, deadline]);
      if (timedOut) log.warn({ job: job.id }, `job ${job.id}: no log line within ${logTimeoutMs} ms, sent without it`);
      return line;
    } catch (error) {
      log.warn({ job: job.id }, `job ${job.id}: log not readable, sent without its last line: ${(error as Error).message}`);
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * One of the sweep's numbered slots for failed-task pushes, or null when all are taken. Each slot is claimed like a
   * notice, so two tasks failing at once never both take the tenth; counting first keeps a burst past the limit to
   * one query per task.
   */
  async function claimFailedTaskSlot(sweep: Sweep): Promise<{ last: boolean } | null> {
    const prefix = failedTaskSlotPrefix(sweep.id, sweep.retries);
    const taken = await orm.em.fork().count(PushNotice, { key: { $like: `${prefix}%` } });
    for (let slot = taken + 1; slot <= MAX_FAILED_TASK_PUSHES; slot++) {
      if (await delivery.claim(`${prefix}${slot}`)) return { last: slot === MAX_FAILED_TASK_PUSHES };
    }
    return null;
  }

  async function onTaskEnded(job: JobSnapshot): Promise<void> {
    if (!RELAUNCHED_STATES.has(job.state)) return;
    if (!(await delivery.claim(jobEndKey(job.id)))) return;
    const em = orm.em.fork();
    const recipients = (await delivery.listeningTo(em, job)).filter((recipient) => recipient.failedTaskPushes);
    if (recipients.length === 0) return;
    const sweep = await em.findOne(Sweep, { id: job.sweepId! });
    if (!sweep) return;
    const slot = await claimFailedTaskSlot(sweep);
    if (!slot) return;
    // Only now: the run list of a large sweep is not read for the failures past the limit.
    await em.populate(sweep, ['runs']);
    const message = taskFailedMessage(job, sweepTaskValues(sweep, job.arrayIndex!), await readLastLine(job), slot.last);
    await delivery.broadcast(recipients.map((recipient) => ({ recipient, message })));
  }

  return async function onJobEnded(job: JobSnapshot): Promise<void> {
    if (job.sweepId != null) return onTaskEnded(job);
    // Claimed even when nobody listens, so a device subscribing later is not told old news.
    if (!(await delivery.claim(jobEndKey(job.id)))) return;
    const recipients = (await delivery.listeningTo(orm.em.fork(), job)).filter((recipient) => recipient.jobEndPushes);
    if (recipients.length === 0) return;
    const message = jobEndMessage(job, await readLastLine(job));
    await delivery.broadcast(recipients.map((recipient) => ({ recipient, message })));
  };
}
