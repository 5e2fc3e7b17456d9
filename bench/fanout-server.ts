// The fan-out benchmark's server, in a process of its own so its memory is measured alone (bench/fanout.ts forks
// it with --expose-gc). The real app on loopback without tokens, one job in a file database; over IPC it answers
// "rss" (after a full GC), "publish" (the job's state changes, saved and published as a poll publishes it) and "cpu".
// Every WebSocket send is timestamped, to tell the server's share of a delivery from the clients'.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createApp } from '../server/http/app.js';
import { Job } from '../server/db/entities.js';
import { initOrm } from '../server/db/orm.js';
import { snapshot } from '../server/jobs/transitions.js';
import { createEvents, createRedisClients } from '../server/events.js';
import { createServices } from '../server/services.js';
import { createJobRow } from './support.js';

export type FanoutRequest = { type: 'rss' } | { type: 'publish' } | { type: 'sends' } | { type: 'cpu' };
export type FanoutReply =
  | { type: 'ready'; url: string; jobId: number; projectId: number }
  | { type: 'rss'; rss: number; heapUsed: number }
  | { type: 'published'; at: number }
  | { type: 'sends'; at: number[] }
  /** This process's CPU time so far (user + system), in microseconds. */
  | { type: 'cpu'; micros: number };

const now = () => performance.timeOrigin + performance.now();

if (process.send) {
  const reply = (message: FanoutReply) => process.send!(message);
  const dir = mkdtempSync(join(tmpdir(), 'mc-bench-fanout-'));
  // A replica of a group server (bench/fanout.ts's two-replica level): the shared PostgreSQL database and Redis bus,
  // and the job the first replica made.
  const group = process.env.MC_BENCH_DATABASE_URL && process.env.MC_BENCH_REDIS_URL ? { databaseUrl: process.env.MC_BENCH_DATABASE_URL, redisUrl: process.env.MC_BENCH_REDIS_URL } : null;
  const orm = await initOrm(group?.databaseUrl ?? join(dir, 'mission-control.sqlite'));
  const redis = group ? await createRedisClients(group.redisUrl) : null;
  const events = redis ? createEvents({ redis }) : undefined;
  const services = createServices({ orm, config: { file: 'bench', clusters: [] }, events });
  const app = createApp({ services, access: { allowWithoutToken: true } });
  const url = await app.start(0, '127.0.0.1');
  const em = orm.em.fork();
  const job = process.env.MC_BENCH_JOB_ID ? await em.findOneOrFail(Job, { id: Number(process.env.MC_BENCH_JOB_ID) }) : createJobRow(em, { cluster: 'lab', state: 'PENDING', slurmJobId: '4242', projectId: 1 });
  await em.flush();

  let sends: number[] = [];
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (this: WebSocket, ...args: Parameters<WebSocket['send']>) {
    sends.push(now());
    return send.apply(this, args);
  } as WebSocket['send'];

  process.on('message', async (message: FanoutRequest) => {
    if (message.type === 'rss') {
      for (let pass = 0; pass < 3; pass++) globalThis.gc?.();
      const usage = process.memoryUsage();
      reply({ type: 'rss', rss: usage.rss, heapUsed: usage.heapUsed });
    } else if (message.type === 'publish') {
      const fork = orm.em.fork();
      const current = await fork.findOneOrFail(Job, { id: job.id });
      current.state = current.state === 'RUNNING' ? 'PENDING' : 'RUNNING';
      current.updatedAt = new Date();
      await fork.flush();
      sends = [];
      const at = now();
      services.events.publish('job:updated', snapshot(current));
      reply({ type: 'published', at });
    } else if (message.type === 'sends') {
      reply({ type: 'sends', at: sends });
    } else if (message.type === 'cpu') {
      const usage = process.cpuUsage();
      reply({ type: 'cpu', micros: usage.user + usage.system });
    }
  });
  process.on('disconnect', async () => {
    await app.stop();
    await services.close();
    events?.close();
    await redis?.quit();
    await orm.close();
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  });
  reply({ type: 'ready', url, jobId: job.id, projectId: 1 });
}
