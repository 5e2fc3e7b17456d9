// Byte sizes and offsets past 2 GiB through the whole HTTP API (yoga.fetch), with a fake cluster whose output file
// is 3 GiB: job.log's size, and a jobLog subscription (SSE) from an offset past 2^31 and its chunk's offset.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobRow } from '../test/factories.js';
import { createApp } from '../server/http/app.js';
import { clusterConfig } from '../server/config.js';
import { initOrm, type Orm } from '../server/db/orm.js';
import { createServices, type Services } from '../server/services.js';
import type { StreamingTransport, StreamOptions } from '../server/ssh/transport.js';
import { authHeaders, createTestToken } from '../test/graphql-client.js';

const GiB = 1024 ** 3;
const SIZE = 3 * GiB;
const OFFSET = 2.5 * GiB;

describe('ByteOffset: a log of 3 GiB', () => {
  let orm: Orm;
  let services: Services;
  let app: ReturnType<typeof createApp>;
  let token: string;
  let jobId: number;
  /** The live tails the server started on the fake cluster: their argv, and how to write into them. */
  const tails: Array<{ argv: readonly string[]; options: StreamOptions }> = [];

  beforeAll(async () => {
    orm = await initOrm(':memory:');
    const transport: StreamingTransport = {
      // The output file is 3 GiB: the log read answers its size, the byte its end starts at and 0 (not the whole
      // file), then that end.
      exec: async (argv) => ({ stdout: argv[0] === 'sh' && argv[2]?.includes('tail -c') ? `${SIZE} ${SIZE - 64} 0\n…the end of a line cut by the tail\nepoch 900 loss=0.01\n` : '', stderr: '', exitCode: 0, durationMs: 1 }),
      stream: async (argv, options) => {
        if (argv[0] === 'tail') tails.push({ argv, options });
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
    token = await createTestToken(services, { name: 'phone' });
    const em = orm.em.fork();
    const job = createJobRow(em, { cluster: 'fake', state: 'RUNNING', slurmJobId: '4242' });
    await em.flush();
    jobId = job.id;
  });
  afterAll(async () => {
    await services.close();
    await orm.close();
  });

  const post = async (query: string, variables?: Record<string, unknown>) => {
    const response = await app.yoga.fetch('http://mc.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeaders(token) },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as { data?: any; errors?: Array<{ message: string }> };
  };

  it("job.log gives the file's size past 2 GiB as an exact JSON number", async () => {
    const body = await post(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { log(tailBytes: 65536) { ... on JobLogSuccess { data { sizeBytes truncated text } } ... on Error { message } } } } } }`, { id: jobId });
    expect(body.errors).toBeUndefined();
    expect(body.data.job.data.log.data).toEqual({ sizeBytes: SIZE, truncated: true, text: 'epoch 900 loss=0.01\n' });
  });

  it('jobLog follows from an offset past 2 GiB and says where each chunk starts, as a JSON number', async () => {
    const query = 'subscription($id: Int!, $from: ByteOffset) { jobLog(jobId: $id, fromByte: $from) { ... on JobLogChunk { fromByte text } } }';
    const response = await app.yoga.fetch(`http://mc.test/graphql?${new URLSearchParams({ query, variables: JSON.stringify({ id: jobId, from: OFFSET }) })}`, {
      headers: { accept: 'text/event-stream', ...authHeaders(token) },
    });
    // Read as a client does, all along: the server starts the subscription when its stream is read.
    let received = '';
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    const reading = (async () => {
      for (let read = await reader.read(); !read.done; read = await reader.read()) received += decoder.decode(read.value, { stream: true });
    })();
    await expect.poll(() => tails.length, { timeout: 2000, interval: 10 }).toBe(1);
    // tail counts from 1: the byte at OFFSET is the (OFFSET + 1)th.
    expect(tails[0]!.argv).toEqual(['tail', '-c', `+${OFFSET + 1}`, '-F', '--', expect.stringMatching(/output\.log$/)]);
    tails[0]!.options.onStdout('epoch 901 loss=0.009\n');
    await expect.poll(() => received, { timeout: 2000, interval: 10 }).toContain('data: {');
    const event = /data: (\{.*\})/.exec(received)![1]!;
    // The number as it is on the wire, not after a JSON.parse that would have rounded it anyway.
    expect(event).toContain(`"fromByte":${OFFSET}`);
    expect(JSON.parse(event).data.jobLog).toEqual({ fromByte: OFFSET, text: 'epoch 901 loss=0.009\n' });
    await reader.cancel();
    await reading;
  });

  it.each([
    ['a negative offset', -1, 'not -1'],
    ['one past the safe integers', Number.MAX_SAFE_INTEGER + 1, 'not 9007199254740992'],
    ['a fraction', 1.5, 'not 1.5'],
    ['a string', '2684354560', 'not "2684354560"'],
  ])('refuses %s with an error naming the argument and the range', async (_case, from, shown) => {
    const body = await post('query($id: Int!, $from: ByteOffset) { job(id: $id) { __typename ... on QueryJobSuccess { data { log(tailBytes: $from) { __typename } } } } }', { id: jobId, from });
    expect(body.errors?.[0]?.message).toBe(`Variable "$from" got invalid value ${JSON.stringify(from)}; ByteOffset must be a whole number of bytes from 0 to 9007199254740991, ${shown}`);
  });

  it('refuses a literal too large to be exact, rather than reading it as another number', async () => {
    const body = await post(`{ job(id: ${jobId}) { __typename ... on QueryJobSuccess { data { log(tailBytes: 9007199254740993) { __typename } } } } }`);
    expect(body.errors?.[0]?.message).toContain('ByteOffset must be a whole number of bytes from 0 to 9007199254740991, not 9007199254740993');
  });
});
