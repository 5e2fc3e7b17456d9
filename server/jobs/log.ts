// A job's log as a query answers it: the end of its output, a screen of lines at least, bounded in bytes (progress
// bars cut to their last state on the cluster) and cleaned for reading, with the W&B run URL found and kept (the
// live log that follows the file is live-log.ts).
import type { EntityManager } from '@mikro-orm/knex';
import type { ClusterService } from '../clusters/service.js';
import type { PubSub } from '../events.js';
import { readOutputHead, readOutputScreen, readOutputTail } from '../slurm/jobs.js';
import { jobPaths } from '../slurm/layout.js';
import { cleanLog, extractWandbUrl, LOG_SCAN_BYTES, LOG_SCREEN_LINES, logTailBytes, trimPartialFirstLine } from './log-text.js';
import { getJob } from './queries.js';
import { changeOf, saveAndAnnounceJob } from './transitions.js';

export interface JobLog {
  text: string;
  /** Size of the whole output file; null before the job wrote anything. */
  sizeBytes: number | null;
  truncated: boolean;
  wandbUrl: string | null;
}

export async function readJobLog({ clusters, events }: { clusters: ClusterService; events: PubSub }, em: EntityManager, id: number, tailBytes: number, collapseProgress: boolean): Promise<JobLog> {
  const job = await getJob(em, id);
  const bytes = logTailBytes(tailBytes);
  const transport = await clusters.transport(job.cluster, job.userId);
  const output = jobPaths(job.jobDir).output;
  // Asked for the bars' every redraw, it gets the file's raw end: cutting on the cluster would drop them.
  const tail = collapseProgress ? await readOutputScreen(transport, output, { maxBytes: bytes, lines: LOG_SCREEN_LINES, scanBytes: LOG_SCAN_BYTES }) : await readOutputTail(transport, output, bytes);
  const { text } = trimPartialFirstLine(Buffer.from(tail.text), tail.startsAtFileStart);
  if (!job.wandbUrl && tail.size !== null) {
    // W&B prints the run URL near the start, which a long log's tail no longer holds.
    const start = tail.startsAtFileStart ? tail.text : await readOutputHead(transport, output, 64 * 1024);
    const change = changeOf(job);
    job.wandbUrl = extractWandbUrl(start) ?? extractWandbUrl(text);
    await saveAndAnnounceJob(em, events, change);
  }
  return { text: cleanLog(text, { collapseProgress }), sizeBytes: tail.size, truncated: !tail.startsAtFileStart, wandbUrl: job.wandbUrl ?? null };
}
