// A promise's answer, or a stand-in after `ms`: for what a preview waits on from a cluster that may be down or slow
// (its partitions, SLURM's verdict), so the preview answers in time and says what it could not check. The work goes on
// in the background and fills its cache for the next call.
import { setTimeout as sleep } from 'node:timers/promises';

export function within<T>(promise: Promise<T>, ms: number, standIn: () => T): Promise<T> {
  return Promise.race([promise, sleep(ms, undefined, { ref: false }).then(standIn)]);
}
