// The soak benchmark's server, in a process of its own so its memory is measured alone (bench/soak.ts forks it
// with --expose-gc). It is the server as `npm start` runs it (startServer: croner poller, lifecycle watcher,
// notifier, HTTP API) on the lab; on "run" it also polls the lab back to back through the poller's own pollNow,
// reporting each tick, and a full-GC memory sample at the ticks it is given. Unhandled rejections and uncaught
// exceptions are counted and reported, not fatal, so that one does not end the soak that should count them.
import { startServer } from '../server/main.js';
import type { PollRecord } from '../server/clusters/service.js';

export type SoakRequest =
  | { type: 'run'; minTickMs: number; sampleAt: number[]; sampleEvery: number }
  | { type: 'stop' }
  | { type: 'shutdown' };

export type TickOutcome = 'ok' | 'error' | 'idle';

export type SoakReply =
  | { type: 'ready'; url: string }
  | { type: 'tick'; index: number; startedAt: number; endedAt: number; outcome: TickOutcome; error?: string }
  | { type: 'sample'; tick: number; rss: number; heapUsed: number; external: number }
  | { type: 'crash'; kind: 'unhandledRejection' | 'uncaughtException'; message: string; at: number }
  | { type: 'stopped'; ticks: number; polls: number; peakRssKiB: number; cpuMicros: number };

const now = () => performance.timeOrigin + performance.now();
const describe = (value: unknown) => (value instanceof Error ? `${value.name}: ${value.message}\n${value.stack?.split('\n').slice(1, 4).join('\n') ?? ''}` : String(value)).slice(0, 1000);

if (process.send) {
  // Never throws: a report that cannot be sent (the bench gone) must not become one of the errors it counts.
  const reply = (message: SoakReply) => {
    if (process.connected) process.send!(message, undefined, undefined, () => undefined);
  };
  process.on('unhandledRejection', (reason) => {
    console.error('unhandledRejection:', reason);
    reply({ type: 'crash', kind: 'unhandledRejection', message: describe(reason), at: now() });
  });
  process.on('uncaughtException', (error) => {
    console.error('uncaughtException:', error);
    reply({ type: 'crash', kind: 'uncaughtException', message: describe(error), at: now() });
  });

  const [configPath, dataDir] = process.argv.slice(2);
  const running = await startServer({ configPath: configPath!, dataDir: dataDir!, port: 0, host: '127.0.0.1', dev: false });
  const { clusters, poller } = running.services;
  const [cluster] = clusters.names();

  // The outcome of each poll, read where the poller reports it; the poller catches its own errors, so pollNow
  // resolves either way.
  let last: PollRecord | null = null;
  let polls = 0;
  const recordPoll = clusters.recordPoll;
  clusters.recordPoll = (name, userId, record) => {
    polls++;
    last = record;
    recordPoll(name, userId, record);
  };

  let stopping = false;
  const sample = (tick: number) => {
    for (let pass = 0; pass < 3; pass++) globalThis.gc?.();
    const usage = process.memoryUsage();
    reply({ type: 'sample', tick, rss: usage.rss, heapUsed: usage.heapUsed, external: usage.external });
  };

  async function run(minTickMs: number, sampleAt: Set<number>, sampleEvery: number) {
    let index = 0;
    while (!stopping) {
      index++;
      last = null;
      const startedAt = now();
      await poller.pollNow(cluster!);
      const endedAt = now();
      const record = last as PollRecord | null;
      // No record: the cluster had no active job, so the poll sent no command.
      const outcome: TickOutcome = !record ? 'idle' : record.error ? 'error' : 'ok';
      reply({ type: 'tick', index, startedAt, endedAt, outcome, ...(record?.error ? { error: record.error.slice(0, 400) } : {}) });
      // Between ticks, so a GC pause is never counted in a tick's time.
      if (index % sampleEvery === 0 || sampleAt.has(index)) sample(index);
      const rest = minTickMs - (now() - startedAt);
      if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest));
    }
    const usage = process.cpuUsage();
    reply({ type: 'stopped', ticks: index, polls, peakRssKiB: process.resourceUsage().maxRSS, cpuMicros: usage.user + usage.system });
  }

  process.on('message', (message: SoakRequest) => {
    if (message.type === 'run') {
      // A failure of the measuring loop itself must not pass for one of the server's unhandled rejections.
      run(message.minTickMs, new Set(message.sampleAt), message.sampleEvery).catch((error: unknown) => {
        console.error('the tick loop failed:', error);
        process.exit(3);
      });
    }
    else if (message.type === 'stop') stopping = true;
    else if (message.type === 'shutdown') {
      stopping = true;
      void running.stop().finally(() => process.exit(0));
    }
  });
  process.on('disconnect', () => {
    stopping = true;
    void running.stop().finally(() => process.exit(0));
  });
  reply({ type: 'ready', url: running.url });
}
