// The jobLog subscription through the whole app, over SSE and over graphql-ws, on a real listening server with a
// fake cluster whose job output files the test writes: a job that does not exist is a typed NotFoundError, and a
// finished job sends the end of its output (from the cluster, no live tail) and completes.
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createJobRow } from '../test/factories.js';
import { authHeaders, createTestToken, wsConnectionParams } from '../test/graphql-client.js';
import { clusterConfig } from '../server/config.js';
import { initOrm, type Orm } from '../server/db/orm.js';
import { ClusterUnreachableError } from '../server/errors.js';
import { createApp } from '../server/http/app.js';
import { createServices, type Services } from '../server/services.js';
import type { JobState } from '../server/slurm/state.js';
import type { StreamingTransport } from '../server/ssh/transport.js';

const QUERY = `subscription($id: Int!, $from: ByteOffset) { jobLog(jobId: $id, fromByte: $from) {
  __typename ... on JobLogChunk { jobId fromByte text } ... on Error { message } } }`;

/** 80 kB of numbered lines: more than the 64 kB a watcher without fromByte gets. */
const LONG_OUTPUT = Array.from({ length: 4000 }, (_, index) => `step ${String(index).padStart(5, '0')} loss=0.123\n`).join('');

type Events = Array<Record<string, unknown>>;

describe('jobLog over SSE and WebSocket', () => {
  let orm: Orm;
  let services: Services;
  let app: ReturnType<typeof createApp>;
  let url: string;
  let token: string;
  /** Output files on the fake cluster, by path. */
  const files = new Map<string, string>();
  /** Long-running commands (tail -F) the server started on the fake cluster. */
  const streams: string[][] = [];
  let unreachable = false;

  beforeAll(async () => {
    orm = await initOrm(':memory:');
    const transport: StreamingTransport = {
      exec: async (argv) => {
        if (unreachable) throw new ClusterUnreachableError('fake', 'connect ECONNREFUSED 10.0.0.1:22');
        // The tail script: the file's size on the first line, then its last bytes.
        if (argv[0] === 'sh' && argv[2]?.includes('tail -c')) {
          const content = files.get(argv[4]!);
          if (content === undefined) return { stdout: 'missing\n', stderr: '', exitCode: 0, durationMs: 1 };
          const bytes = Buffer.from(content);
          return { stdout: `${bytes.length}\n${bytes.subarray(Math.max(0, bytes.length - Number(argv[5]))).toString()}`, stderr: '', exitCode: 0, durationMs: 1 };
        }
        return { stdout: '', stderr: '', exitCode: 0, durationMs: 1 };
      },
      stream: async (argv) => {
        streams.push([...argv]);
        return { stop: () => undefined, done: new Promise(() => undefined) };
      },
      close: async () => undefined,
    };
    services = createServices({
      orm,
      config: { file: 'test.yaml', clusters: [clusterConfig('fake', { host: 'fake.example.edu', user: 'me', agent: true, keepaliveIntervalMs: 0 })] },
      clusters: { firstCheckWaitMs: 0, transportFactory: () => transport },
    });
    app = createApp({ services });
    url = await app.start(0, '127.0.0.1');
    token = await createTestToken(services, { name: 'phone' });
  });
  afterAll(async () => {
    await app.stop();
    await services.close();
    await orm.close();
  });

  async function finishedJob(state: JobState, output: string | undefined): Promise<number> {
    const em = orm.em.fork();
    const job = createJobRow(em, { cluster: 'fake', state, slurmJobId: String(1000 + files.size) });
    await em.flush();
    if (output !== undefined) files.set(`${job.jobDir}/output.log`, output);
    return job.id;
  }

  /** Every event of the subscription over SSE, once the server completed it; fails if it does not within 3 s. */
  async function overSse(variables: Record<string, unknown>): Promise<Events> {
    const response = await fetch(`${url}/graphql?${new URLSearchParams({ query: QUERY, variables: JSON.stringify(variables) })}`, {
      headers: { accept: 'text/event-stream', ...authHeaders(token) },
      signal: AbortSignal.timeout(3000),
    });
    const body = await response.text();
    expect(body).toMatch(/event: complete\ndata:\s*$/);
    return [...body.matchAll(/^event: next\ndata: (.*)$/gm)].map((match) => JSON.parse(match[1]!) as Record<string, unknown>);
  }

  /** Every event of the subscription over graphql-ws, once the server completed it; fails if it does not within 3 s. */
  async function overWebSocket(variables: Record<string, unknown>): Promise<Events> {
    const client = createClient({ url: `${url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: wsConnectionParams(token), retryAttempts: 0 });
    try {
      const received: Events = [];
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no completion within 3 s; received ${JSON.stringify(received)}`)), 3000);
        client.subscribe(
          { query: QUERY, variables },
          { next: (event) => void received.push(event as Record<string, unknown>), error: reject, complete: () => (clearTimeout(timer), resolve()) },
        );
      });
      return received;
    } finally {
      await client.dispose();
    }
  }

  const transports = [
    ['SSE', overSse],
    ['WebSocket', overWebSocket],
  ] as const;

  it.each(transports)('answers a job that does not exist with a typed NotFoundError, then completes (%s)', async (_name, subscribe) => {
    expect(await subscribe({ id: 999_999 })).toEqual([{ data: { jobLog: { __typename: 'NotFoundError', message: 'no job with id 999999' } } }]);
  });

  it.each(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY'] as const)('sends the last 64 kB of a %s job, from its first whole line, then completes', async (state) => {
    const id = await finishedJob(state, LONG_OUTPUT);
    const before = streams.length;
    for (const [, subscribe] of transports) {
      const events = await subscribe({ id });
      expect(events).toHaveLength(1);
      const chunk = (events[0]!.data as { jobLog: { __typename: string; jobId: number; fromByte: number; text: string } }).jobLog;
      expect(chunk.__typename).toBe('JobLogChunk');
      expect(chunk.jobId).toBe(id);
      // The cut falls inside a line: the chunk starts at the next whole one, and says where that is in the file.
      expect(chunk.text.startsWith('step ')).toBe(true);
      expect(LONG_OUTPUT.slice(chunk.fromByte)).toBe(chunk.text);
      expect(LONG_OUTPUT.length - chunk.fromByte).toBeLessThanOrEqual(65536);
      expect(LONG_OUTPUT.length - chunk.fromByte).toBeGreaterThan(65536 - 30);
    }
    // Read once per watcher over the connection's exec; no live tail is started for a job that will write nothing more.
    expect(streams.length).toBe(before);
  });

  it('sends a finished job only what follows fromByte, exactly, and nothing when the watcher has it all', async () => {
    const id = await finishedJob('COMPLETED', 'epoch 1\nepoch 2\nfinal loss=0.01\n');
    for (const [, subscribe] of transports) {
      expect(await subscribe({ id, from: 8 })).toEqual([{ data: { jobLog: { __typename: 'JobLogChunk', jobId: id, fromByte: 8, text: 'epoch 2\nfinal loss=0.01\n' } } }]);
      expect(await subscribe({ id, from: 32 })).toEqual([]);
    }
    // A watcher that missed more than 64 kB gets the last 64 kB, starting at a whole line.
    const long = await finishedJob('COMPLETED', LONG_OUTPUT);
    const [event] = await overSse({ id: long, from: 10 });
    expect((event!.data as { jobLog: { fromByte: number } }).jobLog.fromByte).toBeGreaterThan(LONG_OUTPUT.length - 65536);
  });

  it('completes at once for a finished job that never wrote output (cancelled while pending)', async () => {
    const id = await finishedJob('CANCELLED', undefined);
    for (const [, subscribe] of transports) expect(await subscribe({ id })).toEqual([]);
  });

  it("answers a finished job whose cluster cannot be reached with a typed error naming the cluster", async () => {
    const id = await finishedJob('COMPLETED', 'done\n');
    unreachable = true;
    try {
      for (const [, subscribe] of transports) {
        const [event, ...rest] = await subscribe({ id });
        expect(rest).toEqual([]);
        expect(event!.data).toEqual({ jobLog: { __typename: 'ClusterUnreachableError', message: expect.stringContaining('fake') } });
      }
    } finally {
      unreachable = false;
    }
  });
});
