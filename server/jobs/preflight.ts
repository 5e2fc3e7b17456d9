// SLURM's verdict on a previewed launch (slurm/preflight.ts: `sbatch --test-only` over the open connection), asked
// once per distinct set of directives a minute: a form re-previewed as the user types, or many phones previewing the
// same launch, share one answer. Fresh questions are rate-limited per token, so a client in a loop cannot turn the
// preview into load on the cluster's controller; past the limit the verdict is "not asked", never an error.
import { LRUCache } from 'lru-cache';
import type { ClusterService } from '../clusters/service.js';
import { within } from '../lib/within.js';
import { refusedField, testSubmission } from '../slurm/preflight.js';
import { expectedStart } from './transitions.js';

export type PreflightOutcome = 'ACCEPTED' | 'REFUSED' | 'NOT_ASKED';

export interface Preflight {
  outcome: PreflightOutcome;
  /** SLURM's estimate; null when refused, not asked, or SLURM gave none worth showing. */
  estimatedStartAt: Date | null;
  nodes: string | null;
  partition: string | null;
  /** SLURM's words (or why it was not asked). */
  message: string;
  /** The launch's field a refusal concerns, when SLURM's words say it. */
  field: string | null;
}

/** Fresh questions per token a minute; cached answers are free. */
export const PREFLIGHTS_PER_MINUTE = 20;
const ANSWER_TTL_MS = 60_000;
/** A preview waits this long for SLURM's verdict; a later preview of the same directives gets it from the cache. */
const PREFLIGHT_WAIT_MS = 8000;

/**
 * What SLURM decides on, without what differs between two previews of the same launch: the job's name and the paths
 * of its directory (its tag). The rest of the script does not reach SLURM's decision either, but is part of what
 * sbatch reads, so the whole directive block is the key.
 */
function directivesOf(script: string): string {
  return script
    .split('\n')
    .filter((line) => line.startsWith('#SBATCH ') && !/^#SBATCH --(job-name|output|chdir)=/.test(line))
    .join('\n');
}

export type PreflightService = ReturnType<typeof createPreflight>;

export function createPreflight({ clusters, clock = Date.now, waitMs = PREFLIGHT_WAIT_MS }: { clusters: Pick<ClusterService, 'transport'>; clock?: () => number; waitMs?: number }) {
  const answers = new LRUCache<string, Preflight, { cluster: string; userId: number; script: string; gpuType: string | null }>({
    max: 1000,
    ttl: ANSWER_TTL_MS,
    perf: { now: clock },
    // Read the clock on every access, so a test clock takes effect at once.
    ttlResolution: 0,
    fetchMethod: async (_key, _stale, { context }) => {
      const answer = await testSubmission(await clusters.transport(context.cluster, context.userId), context.script);
      return {
        outcome: answer.accepted ? 'ACCEPTED' : 'REFUSED',
        estimatedStartAt: expectedStart(answer.startAt, new Date(clock())),
        nodes: answer.nodes,
        partition: answer.partition,
        message: answer.message,
        field: answer.accepted ? null : refusedField(answer.message, context.gpuType),
      } satisfies Preflight;
    },
  });
  /** Per token, when its fresh questions were asked (the last minute's). */
  const asked = new Map<string, number[]>();

  const notAsked = (message: string): Preflight => ({ outcome: 'NOT_ASKED', estimatedStartAt: null, nodes: null, partition: null, message, field: null });

  return {
    /**
     * SLURM's verdict on `script` for `cluster`, asked as the user's own login (their account's limits are part of
     * it); a cluster that cannot be asked gives NOT_ASKED with the reason.
     */
    async check(cluster: string, userId: number, script: string, gpuType: string | null, requester: string): Promise<Preflight> {
      const key = `${cluster}\n${userId}\n${directivesOf(script)}`;
      const cached = answers.get(key);
      if (cached) return cached;
      const now = clock();
      const recent = (asked.get(requester) ?? []).filter((at) => now - at < 60_000);
      if (recent.length >= PREFLIGHTS_PER_MINUTE) return notAsked(`SLURM was not asked: more than ${PREFLIGHTS_PER_MINUTE} new previews a minute from this token. It will be at launch.`);
      asked.set(requester, [...recent, now]);
      try {
        const answer = answers.fetch(key, { context: { cluster, userId, script, gpuType } });
        answer.catch(() => undefined);
        return (await within(answer, waitMs, () => notAsked(`SLURM did not answer within ${waitMs / 1000} s: it will be asked at launch.`))) ?? notAsked('SLURM gave no answer');
      } catch (error) {
        return notAsked(`SLURM could not be asked: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}`);
      }
    },
  };
}
