// A replica of its own for server/db/leader-lock.test.ts, to be killed with SIGKILL: it takes the leader lock of the
// database at argv[2] (trying every argv[3] ms) and prints "leader" when it holds it.
// Usage: node --import tsx test/leader-child.ts <postgresql URL> <retry ms>
import { leaderLockFor } from '../server/db/leader-lock.js';

const [url, retryMs] = process.argv.slice(2);
if (!url || !retryMs) throw new Error('usage: node --import tsx test/leader-child.ts <postgresql URL> <retry ms>');

const lock = leaderLockFor(url, {
  retryMs: Number(retryMs),
  onAcquired: () => void process.stdout.write('leader\n'),
  onLost: (reason) => void process.stdout.write(`lost: ${reason}\n`),
});
await lock.start();
// Lives while the test's end of stdin is open, so a test that dies leaves no replica behind holding the lock.
process.stdin.resume();
process.stdin.on('end', () => void lock.stop().then(() => process.exit(0)));
