// Live job logs: ONE remote `tail -F` per watched job, over the cluster's open connection, shared by every
// watcher of that job; it stops when the last watcher leaves or the job ends. Output is sent at most four
// times a second, ANSI stripped and progress bars collapsed (an unfinished line as it stands), so a chatty job
// cannot flood a phone.
import { Repeater } from 'graphql-yoga';
import type { ClusterService } from '../clusters/service.js';
import { Job } from '../db/entities.js';
import type { Orm } from '../db/orm.js';
import { AppError, LogTailLimitError, NotFoundError } from '../errors.js';
import { cleanLog, trimPartialFirstLine } from './log-text.js';
import type { JobLogChunk, PubSub } from '../events.js';
import { readOutputTail } from '../slurm/jobs.js';
import { jobPaths } from '../slurm/layout.js';
import { BACKLOG_BYTES, followJobOutput } from '../slurm/log-tail.js';
import { TERMINAL_STATES } from '../slurm/state.js';
import type { StreamHandle } from '../ssh/transport.js';

const FLUSH_MS = 250;

interface Tail {
  cluster: string;
  watchers: number;
  handle: StreamHandle | null;
  stopped: boolean;
  /** Settles when the tail stops (the job ended, or the server closes): its watchers' streams complete. */
  ended: Promise<void>;
  end: () => void;
}

/**
 * How many jobs' logs a cluster follows at once. Each remote tail holds one of the connection's channels for as
 * long as it is watched, beside the lifecycle watcher's one: two channels stay free for polls, launches and
 * reads, or a few open log screens would make every command wait (3 logs with the default 6 channels).
 */
export const maxLogTails = (maxChannels: number) => Math.max(1, maxChannels - 3);

export type LogFollower = ReturnType<typeof createLogFollower>;

/**
 * What a log subscription delivers: chunks, or one refusal and nothing more (LogTailLimitError, NotFoundError, or
 * what reading a finished job's output from its cluster failed with).
 */
export type JobLogEvent = JobLogChunk | AppError;

export function createLogFollower({ orm, clusters, events }: { orm: Orm; clusters: ClusterService; events: PubSub }) {
  const tails = new Map<number, Tail>();
  const jobEnds = events.subscribe('job:updated');
  void (async () => {
    for await (const job of jobEnds) if (TERMINAL_STATES.has(job.state)) setTimeout(() => stop(job.id), 2000).unref();
  })();

  function stop(jobId: number): void {
    const tail = tails.get(jobId);
    if (!tail) return;
    tail.stopped = true;
    tail.handle?.stop();
    tails.delete(jobId);
    tail.end();
  }

  async function start(job: Job, fromByte: number | null, tail: Tail): Promise<void> {
    let pending = '';
    let offset = fromByte ?? 0;
    let timer: NodeJS.Timeout | null = null;
    const flush = () => {
      timer = null;
      // Everything written so far goes out, an unfinished line too: a progress bar that rewrites one line with \r
      // for an hour must show its current state (collapsed to it here), and nothing may pile up waiting for a \n.
      // The app continues or replaces that line with what follows (client/src/lib/log.ts).
      const text = cleanLog(pending, { collapseProgress: true });
      const fromByte = offset;
      offset += Buffer.byteLength(pending);
      pending = '';
      if (text) events.publish('job:log', job.id, { jobId: job.id, fromByte, text } satisfies JobLogChunk);
    };
    const handle = await followJobOutput(await clusters.transport(job.cluster, job.userId), job.jobDir, fromByte, (chunk) => {
      pending += chunk;
      timer ??= setTimeout(flush, FLUSH_MS);
    });
    if (tail.stopped) handle.stop();
    else tail.handle = handle;
  }

  /**
   * Adds a watcher of the job's tail, starting the tail for the first one; refuses past the cluster's limit. A job
   * that has ended and has no tail left will write nothing more: its watcher gets no tail, and reads it once.
   */
  async function join(jobId: number, fromByte: number | null, owner: number | null): Promise<{ job: Job; tail: Tail | null }> {
    const job = await orm.em.fork().findOne(Job, { id: jobId, ...(owner === null ? {} : { userId: owner }) });
    if (!job) throw new NotFoundError(`no job with id ${jobId}`);
    let tail = tails.get(jobId);
    if (!tail) {
      if (TERMINAL_STATES.has(job.state)) return { job, tail: null };
      const limit = maxLogTails(clusters.config(job.cluster).maxChannels);
      const following = [...tails.values()].filter((other) => other.cluster === job.cluster).length;
      if (following >= limit) throw new LogTailLimitError(job.cluster, following);
      let end!: () => void;
      const ended = new Promise<void>((resolve) => (end = resolve));
      tail = { cluster: job.cluster, watchers: 0, handle: null, stopped: false, ended, end };
      tails.set(jobId, tail);
      void start(job, fromByte, tail).catch(() => stop(jobId));
    }
    tail.watchers++;
    return { job, tail };
  }

  /**
   * The end of a finished job's output, read once over the cluster's connection as the live tail would have sent it:
   * what follows `fromByte` when the watcher has what comes before and it is within the backlog, else the last 64 kB
   * from its first whole line. Null when there is nothing to send (no output, or the watcher has it all).
   */
  async function endedOutput(job: Job, fromByte: number | null): Promise<JobLogChunk | null> {
    const tail = await readOutputTail(await clusters.transport(job.cluster, job.userId), jobPaths(job.jobDir).output, BACKLOG_BYTES);
    if (tail.size === null || (fromByte !== null && fromByte >= tail.size)) return null;
    const bytes = Buffer.from(tail.text);
    const startsAt = tail.size - bytes.length;
    // Counted from the end: the tail's first bytes may be a character cut in two, which decoding did not keep whole.
    const { text, droppedBytes } =
      fromByte !== null && fromByte >= startsAt ? { text: bytes.subarray(bytes.length - (tail.size - fromByte)).toString('utf8'), droppedBytes: fromByte - startsAt } : trimPartialFirstLine(bytes, tail.startsAtFileStart);
    const cleaned = cleanLog(text, { collapseProgress: true });
    return cleaned ? { jobId: job.id, fromByte: startsAt + droppedBytes, text: cleaned } : null;
  }

  function leave(jobId: number, tail: Tail): void {
    tail.watchers--;
    // A tail stopped at the job's end may have been followed by a new one for the same job: that one is not ours.
    if (tail.watchers === 0 && tails.get(jobId) === tail) stop(jobId);
  }

  return {
    /**
     * Chunks of a job's output as it is written; many watchers share one remote tail. A Repeater, not an async
     * generator: a generator's return() waits for its pending next(), which on a quiet job is the next line, maybe
     * hours away, and its tail and SSH channel would stay until then. A Repeater's return() settles that next() at
     * once and runs the leaving below, so the tail stops as soon as the last watcher goes.
     */
    /** `owner`: the user whose job it must be (null: anyone's, an admin); another user's job is "no job with id". */
    follow(jobId: number, fromByte: number | null, owner: number | null = null): AsyncGenerator<JobLogEvent> {
      return new Repeater<JobLogEvent>(async (push, left) => {
        let tail: Tail;
        try {
          const joined = await join(jobId, fromByte, owner);
          if (!joined.tail) {
            // A finished job: the end of its output, then the stream completes (nothing more will be written).
            const last = await endedOutput(joined.job, fromByte);
            if (last) void push(last);
            left();
            return;
          }
          tail = joined.tail;
        } catch (error) {
          // The subscription's one answer: a typed refusal the client shows, not an error that ends it unexplained.
          if (error instanceof AppError) {
            // Delivered before the end: a Repeater hands out what was pushed before it stopped.
            void push(error);
            left();
            return;
          }
          throw error;
        }
        const chunks = events.subscribe('job:log', jobId);
        try {
          const forwarding = (async () => {
            for await (const chunk of chunks) await push(chunk);
          })();
          await Promise.race([left, forwarding, tail.ended]);
        } finally {
          await chunks.return?.();
          leave(jobId, tail);
        }
        // The watcher left, or the job ended and its output was sent (the tail stops 2 s after the end): complete.
        left();
      });
    },
    close(): void {
      void jobEnds.return?.();
      for (const jobId of [...tails.keys()]) stop(jobId);
    },
  };
}
