// Poll leadership handover (issue 21): two replicas of a group server (server/main.ts processes on one PostgreSQL
// database and one Redis); the leader is killed with SIGKILL, and the time until the other one polls (its /readyz says
// `running`) is measured; a new replica takes the dead one's place for the next round. Never both say they poll.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bench } from './bench.js';
import { percentile } from './bench.js';
import { startRedisServer } from '../test/redis-server.js';
import { startServerProcess, type ServerProcess } from '../test/server-process.js';
import { benchPostgresDatabase, ms, sleep } from './support.js';

const ROUNDS = 5;
/** The server's own (server/main.ts LEADER_RETRY_MS): how often a follower tries to take the lead. */
const RETRY_MS = 2_000;

type Replica = ServerProcess;
const startReplica = (args: string[]) => startServerProcess(args, 'a replica');

async function role(replica: Replica): Promise<string | null> {
  try {
    return ((await (await fetch(`${replica.url}/readyz`, { signal: AbortSignal.timeout(1_000) })).json()) as { checks: { poller: string } }).checks.poller;
  } catch {
    return null;
  }
}

const bench: Bench = {
  title: 'Poll leadership handover between two replicas: SIGKILL of the leader',
  async run() {
    const redis = await startRedisServer();
    const database = await benchPostgresDatabase('mc_bench_handover');
    const dir = mkdtempSync(join(tmpdir(), 'mc-bench-handover-'));
    writeFileSync(join(dir, 'clusters.yaml'), 'clusters: {}\n');
    const args = ['--config', join(dir, 'clusters.yaml'), '--data-dir', join(dir, 'data'), '--database-url', database.url, '--redis-url', redis.url];
    const replicas: Replica[] = [];
    const handovers: number[] = [];
    let bothLed = 0;
    let samples = 0;
    try {
      replicas.push(await startReplica(args), await startReplica(args));
      for (let round = 0; round < ROUNDS; round++) {
        await sleep(1_000);
        const roles = await Promise.all(replicas.map(role));
        const leader = replicas[roles.indexOf('running')];
        if (!leader) throw new Error(`round ${round}: no replica leads (${roles.join(', ')})`);
        const follower = replicas.find((replica) => replica !== leader)!;
        const killedAt = performance.now();
        leader.child.kill('SIGKILL');
        let led = false;
        while (performance.now() - killedAt < 30_000) {
          const [was, is] = await Promise.all([role(leader), role(follower)]);
          samples++;
          if (was === 'running' && is === 'running') bothLed++;
          if (is === 'running') {
            led = true;
            break;
          }
          await sleep(20);
        }
        if (!led) throw new Error(`round ${round}: the follower did not lead within 30 s`);
        handovers.push(performance.now() - killedAt);
        replicas.splice(replicas.indexOf(leader), 1);
        replicas.push(await startReplica(args));
      }
    } finally {
      for (const replica of replicas) replica.child.kill('SIGKILL');
      await redis.stop();
      await database.remove();
      rmSync(dir, { recursive: true, force: true });
    }
    return {
      figures: [
        { label: `leadership handover after a SIGKILL of the leader, median / max of ${ROUNDS}`, value: `${ms(percentile(handovers, 50))} / ${ms(Math.max(...handovers))}`, goal: 'within one poll interval (30 s by default; at least 5 s)', met: Math.max(...handovers) < 5_000 },
        { label: `samples with both replicas polling (of ${samples})`, value: String(bothLed), goal: '0', met: bothLed === 0 },
      ],
      tables: [{ columns: ['round', 'handover (kill → the other replica polls)'], rows: handovers.map((value, index) => [index + 1, ms(value)]) }],
      notes: [
        `Two server processes (server/main.ts) on one PostgreSQL database made for the run and one redis-server, on this machine; leadership is a PostgreSQL advisory lock held on a connection of the leader's own (server/db/leader-lock.ts), which PostgreSQL frees when the killed process's socket closes; the follower tries every ${RETRY_MS / 1000} s, so a handover takes up to that plus starting the leader's loops. Measured from the kill to the survivor's /readyz saying \`running\`, asked every 20 ms together with the killed one's.`,
      ],
    };
  },
};

export default bench;
