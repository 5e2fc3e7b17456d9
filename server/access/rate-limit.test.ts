// Rate limits on calls that run a command on the cluster: the buckets on a test clock, then the three limited
// GraphQL fields over the whole stack (yoga.fetch) with a fake cluster that counts the commands it is asked to run.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { authHeaders, createTestToken } from '../../test/graphql-client.js';
import { createApp } from '../http/app.js';
import { clusterConfig } from '../config.js';
import { Job } from '../db/entities.js';
import { createJobRow, insertProject } from '../../test/factories.js';
import { initOrm, type Orm } from '../db/orm.js';
import { ClusterUnreachableError, RateLimitedError } from '../errors.js';
import { createRateLimiter, RATE_LIMITS } from './rate-limit.js';
import { createServices, type Services } from '../services.js';
import { refuseStream } from '../../test/fake-transport.js';

describe('the rate limiter', () => {
  const phone = { tokenName: 'phone' };
  const limits = {
    refreshJob: { perTarget: { burst: 2, everySeconds: 10 }, perCaller: { burst: 3, everySeconds: 1 } },
    log: RATE_LIMITS.log,
    testClusterConnection: { perTarget: { burst: 1, everySeconds: 5 } },
    testNotificationDestination: RATE_LIMITS.testNotificationDestination,
  };
  const refused = (take: () => void): RateLimitedError => {
    try {
      take();
    } catch (error) {
      if (error instanceof RateLimitedError) return error;
      throw error;
    }
    throw new Error('was not refused');
  };

  it('serves a burst per target, then refuses with the seconds until the next call is served', () => {
    let now = 1_000_000;
    const limiter = createRateLimiter({ limits, clock: () => now });
    limiter.take(phone, 'refreshJob', 7);
    limiter.take(phone, 'refreshJob', 7);
    const error = refused(() => limiter.take(phone, 'refreshJob', 7));
    expect(error).toMatchObject({ operation: 'refreshJob', retryAfterSeconds: 10, message: 'refreshJob: asked too often; try again in 10 s' });
    now += 4_000;
    expect(refused(() => limiter.take(phone, 'refreshJob', 7)).retryAfterSeconds).toBe(6);
    // Refused calls took nothing: the call is served as soon as promised.
    now += 6_000;
    limiter.take(phone, 'refreshJob', 7);
  });

  it('limits a caller over all targets, and no caller or operation eats into another', () => {
    let now = 0;
    const limiter = createRateLimiter({ limits, clock: () => now });
    for (const job of [1, 2, 3]) limiter.take(phone, 'refreshJob', job);
    expect(refused(() => limiter.take(phone, 'refreshJob', 4)).retryAfterSeconds).toBe(1);
    limiter.take({ tokenName: 'notebook' }, 'refreshJob', 4);
    limiter.take({ tokenName: null }, 'refreshJob', 4);
    limiter.take(phone, 'log', 4);
    now += 1_000;
    limiter.take(phone, 'refreshJob', 4);
  });

  it('keeps no bucket over all clusters: an unknown name must not use up the real ones', () => {
    const limiter = createRateLimiter({ limits, clock: () => 0 });
    for (const name of ['a', 'b', 'c', 'd', 'e']) limiter.take(phone, 'testClusterConnection', name);
    expect(refused(() => limiter.take(phone, 'testClusterConnection', 'a')).retryAfterSeconds).toBe(5);
  });

  it("charges a log read by the bytes it asks: a token's reads stop at its byte budget, and what a read did not use comes back", () => {
    let now = 0;
    const limiter = createRateLimiter({ clock: () => now });
    const { burst, everySeconds } = RATE_LIMITS.log.bytesPerCaller;
    const fourMiB = 4 * 1024 * 1024;
    const reads = Array.from({ length: burst / fourMiB }, (_, job) => limiter.take(phone, 'log', job, fourMiB));
    const error = refused(() => limiter.take(phone, 'log', 99, fourMiB));
    expect(error).toMatchObject({ operation: 'log', retryAfterSeconds: Math.ceil(fourMiB * everySeconds) });
    // The refusal took nothing: not a call from the call buckets either.
    limiter.take(phone, 'log', 99, 0);
    // A read of a short file used 1 kB of its 4 MiB: the rest is the token's again.
    reads[0]!.refund(fourMiB - 1024);
    limiter.take(phone, 'log', 98, fourMiB - 1024);
    expect(refused(() => limiter.take(phone, 'log', 97, 1024)).operation).toBe('log');
    now += 1000;
    limiter.take(phone, 'log', 97, 1 / everySeconds);
    limiter.take({ tokenName: 'notebook' }, 'log', 99, fourMiB);
  });

  it('forgets only buckets of the same operation when full: a flood of cluster names leaves the refresh limits alone', () => {
    const limiter = createRateLimiter({ limits, clock: () => 0, maxBuckets: 10 });
    for (const job of [1, 2, 3]) limiter.take(phone, 'refreshJob', job);
    for (let index = 0; index < 100; index++) limiter.take(phone, 'testClusterConnection', `${'x'.repeat(100_000)}${index}`);
    expect(refused(() => limiter.take(phone, 'refreshJob', 4)).operation).toBe('refreshJob');
  });
});

describe('limited GraphQL fields', () => {
  let orm: Orm;
  let services: Services;
  let app: ReturnType<typeof createApp>;
  let token: string;
  let jobId: number;
  let commands = 0;
  // Frozen: a slow machine must not refill a bucket between two calls of a test.
  let now = 0;

  beforeAll(async () => {
    orm = await initOrm(':memory:');
    services = createServices({
      orm,
      config: { file: 'test.yaml', clusters: [clusterConfig('fake', { host: 'fake.example.edu', user: 'me', agent: true, keepaliveIntervalMs: 0 })] },
      clusters: {
        firstCheckWaitMs: 0,
        transportFactory: () => ({
          exec: async () => {
            commands++;
            throw new ClusterUnreachableError('fake', 'connect ECONNREFUSED');
          },
          close: async () => undefined,
          stream: refuseStream,
        }),
      },
    });
    app = createApp({ services });
    token = await createTestToken(services, { name: 'phone' });
    const em = orm.em.fork();
    const project = await insertProject(em);
    const job = em.create(Job, {
      tag: 'abcdefabcdef',
      userId: 1,
      projectId: project.id,
      cluster: 'fake',
      name: 'train',
      description: '',
      commitSha: 'a'.repeat(40),
      input: {} as Job['input'],
      script: '#!/bin/bash\n',
      jobDir: '/home/me/mission-control/jobs/abcdefabcdef',
      slurmJobId: '4242',
      state: 'RUNNING',
      archived: false,
      createdAt: new Date(),
      updatedAt: new Date(),
      submittedAt: new Date(),
    });
    // More jobs than one query may read the logs of.
    for (let index = 0; index < 39; index++) em.create(Job, { ...job, id: undefined, tag: `job${String(index).padStart(9, '0')}` } as never);
    await em.flush();
    jobId = job.id;
    // The connection check at start is not what is counted here.
    await new Promise((resolve) => setTimeout(resolve, 50));
  });
  afterAll(async () => {
    await services.close();
    await orm.close();
  });
  beforeEach(() => {
    services.limits = createRateLimiter({ clock: () => now });
  });

  async function graphql(query: string, bearer = token) {
    const response = await app.yoga.fetch('http://mc.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeaders(bearer) },
      body: JSON.stringify({ query }),
    });
    const body = (await response.json()) as { data?: any; errors?: unknown[] };
    expect(body.errors).toBeUndefined();
    return body.data;
  }

  /** Calls until refused; returns how many were served, the refusal, and the commands the served calls ran. */
  async function exhaust(call: () => Promise<{ __typename: string; message?: string; retryAfterSeconds?: number }>, atMost = 100) {
    const before = commands;
    for (let served = 0; served < atMost; served++) {
      const outcome = await call();
      if (outcome.__typename === 'RateLimitedError') return { served, refusal: outcome, ran: commands - before };
    }
    throw new Error(`not refused after ${atMost} calls`);
  }

  const errorFields = '__typename ... on Error { message } ... on RateLimitedError { retryAfterSeconds }';

  it('refreshJob: a typed RateLimitedError after the burst, and nothing run for it', async () => {
    const refresh = async () => (await graphql(`mutation { refreshJob(id: ${jobId}) { ${errorFields} } }`)).refreshJob;
    expect((await refresh()).__typename).toBe('ClusterUnreachableError');
    const { served, refusal, ran } = await exhaust(refresh);
    expect(served).toBe(RATE_LIMITS.refreshJob.perTarget.burst - 1);
    expect(ran).toBe(served);
    expect(refusal).toEqual({ __typename: 'RateLimitedError', message: 'refreshJob: asked too often; try again in 1 s', retryAfterSeconds: 1 });
    const before = commands;
    expect((await refresh()).__typename).toBe('RateLimitedError');
    expect(commands).toBe(before);
    now += 1_000;
    expect((await refresh()).__typename).toBe('ClusterUnreachableError');
    // Another token has its own buckets.
    expect((await graphql(`mutation { refreshJob(id: ${jobId}) { ${errorFields} } }`, await createTestToken(services, { name: 'notebook' }))).refreshJob.__typename).toBe('ClusterUnreachableError');
  });

  it("a job's log: one query asking many logs gets the first ones and typed refusals for the rest", async () => {
    const readLog = async () => (await graphql(`{ job(id: ${jobId}) { ... on QueryJobSuccess { data { log { ${errorFields} } } } } }`)).job.data.log;
    const { served, refusal, ran } = await exhaust(readLog);
    expect(served).toBe(RATE_LIMITS.log.perTarget.burst);
    expect(ran).toBe(served);
    expect(refusal).toMatchObject({ __typename: 'RateLimitedError', retryAfterSeconds: 2 });

    const before = commands;
    const many = await graphql(`{ jobs(first: 50) { nodes { log { __typename } } } }`, await createTestToken(services, { name: 'dashboard' }));
    const outcomes = many.jobs.nodes.map((node: { log: { __typename: string } }) => node.log.__typename);
    expect(outcomes).toHaveLength(40);
    expect(outcomes.filter((typename: string) => typename === 'ClusterUnreachableError')).toHaveLength(RATE_LIMITS.log.perCaller.burst);
    expect(outcomes.filter((typename: string) => typename === 'RateLimitedError')).toHaveLength(40 - RATE_LIMITS.log.perCaller.burst);
    expect(commands - before).toBe(RATE_LIMITS.log.perCaller.burst);
  });

  it('testClusterConnection: refused per cluster; an unknown name is still a NotFoundError', async () => {
    const test = async (name: string) => (await graphql(`mutation { testClusterConnection(name: "${name}") { ${errorFields} } }`)).testClusterConnection;
    const { served, refusal, ran } = await exhaust(() => test('fake'));
    expect(served).toBe(RATE_LIMITS.testClusterConnection.perTarget.burst);
    // A check already under way (a status read of the same cluster) answers a test that comes meanwhile: at most one
    // command per served test, and none for a refused one.
    expect(ran).toBeGreaterThanOrEqual(1);
    expect(ran).toBeLessThanOrEqual(served);
    const before = commands;
    expect((await test('fake')).__typename).toBe('RateLimitedError');
    expect(commands).toBe(before);
    expect(refusal).toMatchObject({ __typename: 'RateLimitedError', retryAfterSeconds: 5 });
    for (let index = 0; index < 20; index++) expect((await test(`nowhere-${index}`)).__typename).toBe('NotFoundError');
  });
});

// The byte budget over the whole stack: a fake cluster whose every output file is 1 GiB, counting the tails it ran
// and the bytes they asked for.
describe('the byte budget of log reads', () => {
  const MiB = 1024 * 1024;
  /** A token's log bytes before refusals start, as server/rate-limit.ts says it: four reads of the most one may ask. */
  const BUDGET = 16 * MiB;
  let orm: Orm;
  let services: Services;
  let app: ReturnType<typeof createApp>;
  let jobIds: number[] = [];
  let tails = 0;
  let bytesAsked = 0;
  let now = 0;

  beforeAll(async () => {
    orm = await initOrm(':memory:');
    services = createServices({
      orm,
      config: { file: 'test.yaml', clusters: [clusterConfig('fake', { host: 'fake.example.edu', user: 'me', agent: true, keepaliveIntervalMs: 0 })] },
      clusters: {
        firstCheckWaitMs: 0,
        transportFactory: () => ({
          exec: async (argv) => {
            if (argv[0] !== 'sh' || !argv[2]?.includes('tail -c')) return { stdout: '', stderr: '', exitCode: 0, durationMs: 1 };
            const asked = Number(argv[5]);
            tails++;
            bytesAsked += asked;
            // Only the last lines, whatever was asked: the budget counts the bytes the file had to give, not the text.
            // The header: the file's size, the byte the lines stand for from, and 0 for "not from the file's start".
            return { stdout: `${1024 * MiB} ${1024 * MiB - 32} 0\n…ss=0.6\nstep 9 loss=0.5\n`, stderr: '', exitCode: 0, durationMs: 1 };
          },
          close: async () => undefined,
          stream: refuseStream,
        }),
      },
    });
    app = createApp({ services });
    const em = orm.em.fork();
    const jobs = Array.from({ length: 30 }, (_, index) => createJobRow(em, { cluster: 'fake', state: 'RUNNING', slurmJobId: String(5000 + index) }));
    await em.flush();
    jobIds = jobs.map((job) => job.id);
    await new Promise((resolve) => setTimeout(resolve, 50));
  });
  afterAll(async () => {
    await services.close();
    await orm.close();
  });
  beforeEach(() => {
    services.limits = createRateLimiter({ clock: () => now });
    tails = 0;
    bytesAsked = 0;
  });

  async function graphql(query: string, token: string) {
    const response = await app.yoga.fetch('http://mc.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeaders(token) },
      body: JSON.stringify({ query }),
    });
    const body = (await response.json()) as { data?: any; errors?: unknown[] };
    expect(body.errors).toBeUndefined();
    return body.data;
  }

  const outcome = '__typename ... on RateLimitedError { retryAfterSeconds message }';

  it('stops a document of 30 reads of 4 MiB (two aliases of log on each of 15 jobs) at the budget, with typed refusals for the rest', async () => {
    const data = await graphql(
      `{ jobs(first: 15) { nodes { a: log(tailBytes: ${4 * MiB}) { ${outcome} } b: log(tailBytes: ${4 * MiB}) { ${outcome} } } } }`,
      await createTestToken(services, { name: 'aliases' }),
    );
    const logs = data.jobs.nodes.flatMap((job: any) => [job.a, job.b]);
    expect(logs).toHaveLength(30);
    const served = BUDGET / (4 * MiB);
    expect(logs.filter((log: any) => log.__typename === 'JobLogSuccess')).toHaveLength(served);
    expect(logs.filter((log: any) => log.__typename === 'RateLimitedError')).toHaveLength(30 - served);
    expect(tails).toBe(served);
    expect(bytesAsked).toBe(BUDGET);
    expect(logs.find((log: any) => log.__typename === 'RateLimitedError')).toMatchObject({ retryAfterSeconds: 16, message: 'log: asked too often; try again in 16 s' });
  });

  it("stops a list of 30 jobs' 4 MiB logs the same way", async () => {
    const data = await graphql(`{ jobs(first: 30) { nodes { log(tailBytes: ${4 * MiB}) { ${outcome} } } } }`, await createTestToken(services, { name: 'list' }));
    const typenames = data.jobs.nodes.map((job: any) => job.log.__typename);
    expect(typenames.filter((typename: string) => typename === 'JobLogSuccess')).toHaveLength(BUDGET / (4 * MiB));
    expect(bytesAsked).toBe(BUDGET);
  });

  it('never refuses a phone: twenty minutes of a job screen opened every 4 s, with ten at once every ten minutes', async () => {
    const phone = await createTestToken(services, { name: 'phone-session' });
    // The app's own document (client/src/api/jobs.ts): the default tail of 256 kB.
    const JOB_LOG = (id: number) => `{ job(id: ${id}) { __typename ... on QueryJobSuccess { data { log { ${outcome} ... on JobLogSuccess { data { text sizeBytes truncated wandbUrl } } } } } } }`;
    let reads = 0;
    for (let minute = 0; minute < 20; minute++) {
      // A screen every 4 s, each log read when it opens and again when its job ends...
      for (let second = 0; second < 60; second += 4) {
        now += 4000;
        for (const read of [0, 1]) {
          const log = (await graphql(JOB_LOG(jobIds[(minute * 15 + second / 4 + read) % jobIds.length]!), phone)).job.data.log;
          expect(log.__typename, `minute ${minute}, second ${second}: ${log.message}`).toBe('JobLogSuccess');
          reads++;
        }
      }
      // ...and every ten minutes, ten screens at once (the app back from the background, every open log re-read).
      if (minute % 10 === 0) {
        const burst = await graphql(`{ ${jobIds.slice(0, 10).map((id, index) => `j${index}: job(id: ${id}) { ... on QueryJobSuccess { data { log { ${outcome} } } } }`).join(' ')} }`, phone);
        expect(Object.values(burst).map((job: any) => job.data.log.__typename)).toEqual(Array(10).fill('JobLogSuccess'));
        reads += 10;
      }
    }
    expect(reads).toBe(20 * 30 + 20);
    console.log(`phone session: ${reads} log reads, ${(bytesAsked / MiB).toFixed(0)} MiB in 20 minutes, none refused`);
  }, 60_000);
});
