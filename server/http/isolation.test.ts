// Users of one group server (issue 21): user B can neither read nor change user A's projects, jobs, sweeps and push
// devices, through any root field of the schema, over HTTP, Server-Sent Events and WebSocket; an admin reads
// everyone's and changes only their own. The table below names every root field: a field added to the schema without
// a case here fails the test, so no field is left unchecked. Each read is also asked as A, who must see what B must not,
// so a check that could not fail would show.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { schema } from '../../schema/index.js';
import { createTestToken, wsConnectionParams } from '../../test/graphql-client.js';
import { overSse, overWebSocket, type Listener } from '../../test/subscription-listeners.js';
import { refuseStream } from '../../test/fake-transport.js';
import { createJobRow, insertProject } from '../../test/factories.js';
import { clusterConfig, type Config } from '../config.js';
import { Job, Project, PushSubscription, Sweep } from '../db/entities.js';
import { initOrm, type Orm } from '../db/orm.js';
import { snapshot } from '../jobs/transitions.js';
import { createServices, type Services } from '../services.js';
import { createApp } from './app.js';

/** What only A's rows say: a reply to B that holds one of these leaked A's data. */
const MARKERS = ['project-of-alice', 'job-of-alice', 'sweep-of-alice', 'alice-device'];

let orm: Orm;
let services: Services;
let app: ReturnType<typeof createApp>;
let url: string;
const token: Record<'alice' | 'bob' | 'admin', string> = { alice: '', bob: '', admin: '' };
let ids: { project: number; job: number; sweep: number; task: number; endpoint: string; checkout: string };
let commands = 0;

beforeAll(async () => {
  orm = await initOrm(join(mkdtempSync(join(tmpdir(), 'mc-isolation-')), 'mission-control.sqlite'));
  const config: Config = { file: 'test.yaml', clusters: [clusterConfig('alpha', { host: 'alpha.example.edu', user: 'me', identityFile: '/home/me/.ssh/id', keepaliveIntervalMs: 0 })] };
  const exec = async () => (commands++, { stdout: '', stderr: 'no cluster here', exitCode: 1, durationMs: 1 });
  services = createServices({ orm, config, clusters: { transportFactory: () => ({ exec, close: async () => undefined, stream: refuseStream }) } });
  app = createApp({ services });
  url = await app.start(0, '127.0.0.1');
  const alice = await services.users.add('alice');
  const bob = await services.users.add('bob');
  token.alice = await createTestToken(services, { name: 'alice-phone', userId: alice.id });
  token.bob = await createTestToken(services, { name: 'bob-phone', userId: bob.id });
  // User 1, `owner`, is the admin every server starts with.
  token.admin = await createTestToken(services, { name: 'admin-phone', userId: 1 });

  // A real repository, so that B's addProject of its path gets as far as asking whose it is.
  const checkout = mkdtempSync(join(tmpdir(), 'project-of-alice-'));
  execFileSync('git', ['init', '-q', checkout]);
  execFileSync('git', ['-C', checkout, '-c', 'user.name=a', '-c', 'user.email=a@example.org', 'commit', '-q', '--allow-empty', '-m', 'first']);
  const em = orm.em.fork();
  const project = await insertProject(em, 'project-of-alice', alice.id);
  project.localPath = checkout;
  await em.flush();
  const job = createJobRow(em, { cluster: 'alpha', state: 'RUNNING', projectId: project.id, slurmJobId: '77', name: 'job-of-alice', userId: alice.id });
  job.input = { ...job.input, name: 'job-of-alice' };
  const sweep = em.create(Sweep, {
    userId: alice.id,
    tag: 'sweepofalice',
    projectId: project.id,
    cluster: 'alpha',
    name: 'sweep-of-alice',
    commitSha: 'a'.repeat(40),
    input: job.input,
    definition: ['seed=1,2'],
    varying: ['seed'],
    size: 2,
    runs: [{ overrides: ['seed=1'], words: [] }, { overrides: ['seed=2'], words: [] }],
    throttle: 2,
    retries: 0,
    counts: { FAILED: 1 },
    archived: false,
    createdAt: new Date(),
    updatedAt: new Date(),
  });
  await em.flush();
  const task = createJobRow(em, { cluster: 'alpha', state: 'FAILED', projectId: project.id, slurmJobId: '78_0', name: 'sweep-of-alice' });
  Object.assign(task, { input: { ...task.input, name: 'job-of-alice' }, userId: alice.id, sweepId: sweep.id, arrayIndex: 0, endedAt: new Date(), startedAt: new Date(Date.now() - 3_600_000), exitCode: 1 });
  await em.flush();
  const endpoint = 'https://push.example.org/alice-device';
  await services.notify.register(em, { endpoint, p256dh: 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM', auth: 'tBHItJI5svbpez7KI4CCXg' }, null, alice.id);
  ids = { project: project.id, job: job.id, sweep: sweep.id, task: task.id, endpoint, checkout };
}, 60_000);

afterAll(async () => {
  await app?.stop();
  await services?.close();
  await orm?.close();
});

/** A's rows as they are: what no request of B's may change. */
async function aliceRows() {
  const em = orm.em.fork();
  const strip = <T extends object>(row: T | null) => (row ? JSON.parse(JSON.stringify(row)) : null);
  return {
    project: strip(await em.findOne(Project, { id: ids.project })),
    jobs: strip(await em.find(Job, { userId: { $ne: 1 } }, { orderBy: { id: 'asc' }, exclude: ['script'] })),
    sweep: strip(await em.findOne(Sweep, { id: ids.sweep })),
    devices: strip(await em.find(PushSubscription, { endpoint: ids.endpoint })),
  };
}

type Transport = 'http' | 'ws';

/** One operation's whole answer, as JSON text, over HTTP or over a WebSocket. */
async function ask(transport: Transport, who: keyof typeof token, query: string, variables: Record<string, unknown> = {}): Promise<string> {
  if (transport === 'http') {
    const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token[who]}` }, body: JSON.stringify({ query, variables }) });
    return response.text();
  }
  const client = createClient({ url: `${url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: wsConnectionParams(token[who]) });
  try {
    return JSON.stringify(await new Promise((resolve, reject) => {
      let result: unknown;
      client.subscribe({ query, variables }, { next: (value) => (result = value), error: reject, complete: () => resolve(result) });
    }));
  } finally {
    await client.dispose();
  }
}

const leaks = (answer: string) => MARKERS.filter((marker) => answer.includes(marker));
const RESULT = '__typename ... on Error { message }';

/**
 * Every query: its document as B asks it (A's ids), and whether A sees A's data through it (the control); `none`: a
 * field with nothing of a user's in it (the clusters, the server's key).
 */
function queries(): Record<string, { query: string; aSees: boolean }> {
  const jobInput = `{ projectId: ${ids.project}, cluster: "alpha", name: "x" }`;
  return {
    cluster: { query: '{ cluster(name: "alpha") { ... on QueryClusterSuccess { data { name externalJobs { slurmJobId } } } } }', aSees: false },
    clusters: { query: '{ clusters { name } }', aSees: false },
    gpuAvailability: { query: `{ gpuAvailability(cluster: "alpha") { ${RESULT} } }`, aSees: false },
    hydraConfig: { query: `{ hydraConfig(projectId: ${ids.project}) { ${RESULT} } }`, aSees: false },
    job: { query: `{ job(id: ${ids.job}) { ${RESULT} ... on QueryJobSuccess { data { name } } } }`, aSees: true },
    jobLineage: { query: `{ jobLineage(projectId: ${ids.project}) { ${RESULT} ... on QueryJobLineageSuccess { data { job { name } } } } }`, aSees: true },
    jobTemplate: { query: `{ jobTemplate(id: ${ids.job}) { ${RESULT} ... on QueryJobTemplateSuccess { data { input { name } } } } }`, aSees: true },
    jobs: { query: `{ jobs(filter: { tasks: true }) { edges { node { name } } } }`, aSees: true },
    lastJobInput: { query: `{ lastJobInput(projectId: ${ids.project}) { name } }`, aSees: true },
    notificationDestinations: { query: '{ notificationDestinations { name } }', aSees: false },
    previewScript: { query: `{ previewScript(input: ${jobInput}) { ${RESULT} ... on QueryPreviewScriptSuccess { data { script } } } }`, aSees: false },
    previewSweep: { query: `{ previewSweep(input: { job: ${jobInput}, sweep: ["seed=1,2"] }) { ${RESULT} } }`, aSees: false },
    project: { query: `{ project(id: ${ids.project}) { ${RESULT} ... on QueryProjectSuccess { data { name } } } }`, aSees: true },
    projects: { query: '{ projects { name } }', aSees: true },
    pushDevice: { query: `{ pushDevice(endpoint: "${ids.endpoint}") { endpoint } }`, aSees: false },
    pushPublicKey: { query: '{ pushPublicKey }', aSees: false },
    queueWaits: { query: '{ queueWaits { cluster } }', aSees: false },
    session: { query: '{ session { tokenName } }', aSees: false },
    sweep: { query: `{ sweep(id: ${ids.sweep}) { ${RESULT} ... on QuerySweepSuccess { data { name } } } }`, aSees: true },
    sweeps: { query: '{ sweeps { nodes { name } } }', aSees: true },
    usage: {
      query: `{ usage(from: "${new Date(Date.now() - 7 * 86_400_000).toISOString()}", to: "${new Date(Date.now() + 86_400_000).toISOString()}", groupBy: PROJECT) { ... on QueryUsageSuccess { data { outcomes { key } } } } }`,
      aSees: true,
    },
  };
}

/** Every mutation as B sends it at A's rows; none may change them (A's rows are compared after all of them). */
function mutations(): Record<string, string> {
  const jobInput = `{ projectId: ${ids.project}, cluster: "alpha", name: "x" }`;
  return {
    addProject: `mutation { addProject(localPath: ${JSON.stringify(ids.checkout)}) { ${RESULT} } }`,
    archiveJob: `mutation { archiveJob(id: ${ids.job}) { ${RESULT} } }`,
    archiveSweep: `mutation { archiveSweep(id: ${ids.sweep}) { ${RESULT} } }`,
    cancelJob: `mutation { cancelJob(id: ${ids.job}) { ${RESULT} } }`,
    cancelSweep: `mutation { cancelSweep(id: ${ids.sweep}) { ${RESULT} } }`,
    deleteProject: `mutation { deleteProject(id: ${ids.project}) { ${RESULT} } }`,
    refreshJob: `mutation { refreshJob(id: ${ids.job}) { ${RESULT} } }`,
    // Another browser's endpoint (a push endpoint is the browser's own secret, and a browser that registers again
    // becomes the registering user's: push/subscriptions.ts), muting A's project: refused, A's project is no project of B's.
    registerPushSubscription: `mutation { registerPushSubscription(input: { endpoint: "https://push.example.org/bob-device", p256dh: "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM", auth: "tBHItJI5svbpez7KI4CCXg", mutedProjectIds: [${ids.project}] }) { ${RESULT} } }`,
    relaunchFailedTasks: `mutation { relaunchFailedTasks(id: ${ids.sweep}) { ${RESULT} } }`,
    setSweepThrottle: `mutation { setSweepThrottle(id: ${ids.sweep}, max: 1) { ${RESULT} } }`,
    submitJob: `mutation { submitJob(input: ${jobInput}) { ${RESULT} } }`,
    submitSweep: `mutation { submitSweep(input: { job: ${jobInput}, sweep: ["seed=1,2"] }) { ${RESULT} } }`,
    syncProject: `mutation { syncProject(id: ${ids.project}) { ${RESULT} } }`,
    testClusterConnection: `mutation { testClusterConnection(name: "alpha") { ${RESULT} } }`,
    testNotificationDestination: `mutation { testNotificationDestination(name: "alice-ntfy") { ${RESULT} } }`,
    unarchiveJob: `mutation { unarchiveJob(id: ${ids.job}) { ${RESULT} } }`,
    // Answers whether a device of this token's was removed: false.
    unregisterPushSubscription: `mutation { unregisterPushSubscription(endpoint: "${ids.endpoint}") { __typename ... on MutationUnregisterPushSubscriptionSuccess { data } } }`,
    updatePushSettings: `mutation { updatePushSettings(endpoint: "${ids.endpoint}", pendingAfterMinutes: 1) { ${RESULT} } }`,
  };
}

/** Every subscription as B asks it about A's rows, and the event of A's that would answer it. */
function subscriptions(): Record<string, { query: string; publish?: () => Promise<void>; tells?: string }> {
  const publishJob = async () => services.events.publish('job:updated', snapshot(await orm.em.fork().findOneOrFail(Job, { id: ids.job })));
  return {
    clusterStatus: { query: 'subscription { clusterStatus(name: "alpha") { name externalJobs { slurmJobId } } }' },
    gpuAvailability: { query: 'subscription { gpuAvailability(cluster: "alpha") { cluster } }' },
    jobLog: { query: `subscription { jobLog(jobId: ${ids.job}) { __typename ... on Error { message } } }` },
    jobUpdated: { query: `subscription { jobUpdated(jobIds: [${ids.job}]) { id name } }`, publish: publishJob },
    metricsUpdated: {
      query: `subscription { metricsUpdated(jobIds: [${ids.job}]) { jobId names } }`,
      publish: async () => services.events.publish('metrics:updated', { jobId: ids.job, names: ['loss'] }),
      // Names no row: A's job id tells it is A's.
      tells: `"jobId":${ids.job}`,
    },
    sweepUpdated: {
      query: `subscription { sweepUpdated(sweepIds: [${ids.sweep}]) { id name } }`,
      publish: async () => {
        const { runs: _runs, ...sweep } = await orm.em.fork().findOneOrFail(Sweep, { id: ids.sweep });
        services.events.publish('sweep:updated', sweep as never);
      },
    },
  };
}

const rootFields = (type: 'Query' | 'Mutation' | 'Subscription') => Object.keys(schema.getType(type) && 'getFields' in schema.getType(type)! ? (schema.getType(type) as { getFields(): Record<string, unknown> }).getFields() : {}).sort();

describe('users of one server', { timeout: 30_000 }, () => {
  it('has a case for every root field of the schema', () => {
    expect(Object.keys(queries()).sort()).toEqual(rootFields('Query'));
    expect(Object.keys(mutations()).sort()).toEqual(rootFields('Mutation'));
    expect(Object.keys(subscriptions()).sort()).toEqual(rootFields('Subscription'));
  });

  for (const transport of ['http', 'ws'] as const) {
    it(`B reads nothing of A's through any query, over ${transport === 'http' ? 'HTTP' : 'WebSocket'}; A reads it through the same`, async () => {
      for (const [field, { query, aSees }] of Object.entries(queries())) {
        const asBob = await ask(transport, 'bob', query);
        expect(leaks(asBob), `${field} as B: ${asBob}`).toEqual([]);
        const asAlice = await ask(transport, 'alice', query);
        if (aSees) expect(leaks(asAlice).length || (field === 'usage' && asAlice.includes(`"key":"${ids.project}"`)), `${field} as A: ${asAlice}`).toBeTruthy();
        if (field === 'usage') expect(asBob, asBob).not.toContain(`"key":"${ids.project}"`);
      }
    });
  }

  it("B changes nothing of A's through any mutation; the refusals are typed, and nothing runs on the cluster", async () => {
    const before = await aliceRows();
    const ran = commands;
    for (const [field, mutation] of Object.entries(mutations())) {
      // B's own words said back (the path B asked to add) tell B nothing.
      const answer = (await ask('http', 'bob', mutation)).replaceAll(ids.checkout, '<the path B sent>');
      expect(leaks(answer), `${field}: ${answer}`).toEqual([]);
      const typename = (JSON.parse(answer) as { data?: Record<string, { __typename: string }> }).data?.[field]?.__typename;
      // Refused with a typed error, or (the fields with nothing of a user's, and B's own device) done for B alone.
      if (field === 'unregisterPushSubscription') expect(answer).toContain('"data":false');
      else if (field !== 'testClusterConnection') expect(String(typename), `${field}: ${answer}`).toMatch(/Error$/);
    }
    expect(await aliceRows()).toEqual(before);
    // Only testClusterConnection reached the cluster.
    expect(commands - ran).toBeLessThanOrEqual(2);
  });

  it("an admin reads A's rows and changes only their own", async () => {
    const read = await ask('http', 'admin', `{ job(id: ${ids.job}) { ... on QueryJobSuccess { data { name } } } }`);
    expect(read).toContain('job-of-alice');
    const before = await aliceRows();
    for (const field of ['archiveJob', 'cancelJob', 'unarchiveJob', 'archiveSweep', 'cancelSweep', 'setSweepThrottle', 'relaunchFailedTasks', 'deleteProject', 'submitJob', 'submitSweep']) {
      const answer = await ask('http', 'admin', mutations()[field]!);
      expect(answer, field).toMatch(/belongs to another user: an admin sees everyone's, and changes only their own/);
    }
    expect(await aliceRows()).toEqual(before);
  });

  it("B's agent reads nothing of A's and changes nothing through the MCP tools, which run GraphQL as B", async () => {
    const agent = async (who: keyof typeof token) => {
      const client = new Client({ name: 'isolation', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token[who]}` } } }));
      return client;
    };
    const [bob, alice] = [await agent('bob'), await agent('alice')];
    try {
      const before = await aliceRows();
      const calls: Array<[string, Record<string, unknown>]> = [
        ['get_job', { id: ids.job }],
        ['job_log', { id: ids.job }],
        ['search_jobs', {}],
        ['get_sweep', { id: ids.sweep }],
        ['list_sweeps', {}],
        ['list_projects', {}],
        ['cancel_job', { id: ids.job }],
        ['cancel_sweep', { id: ids.sweep }],
        ['relaunch_failed_tasks', { id: ids.sweep }],
      ];
      for (const [name, args] of calls) {
        const asBob = JSON.stringify(await bob.callTool({ name, arguments: args }));
        expect(leaks(asBob), `${name} as B: ${asBob}`).toEqual([]);
      }
      expect(await aliceRows()).toEqual(before);
      // The control: A's agent reads A's job.
      expect(JSON.stringify(await alice.callTool({ name: 'get_job', arguments: { id: ids.job } }))).toContain('job-of-alice');
    } finally {
      await bob.close();
      await alice.close();
    }
  });

  for (const over of ['SSE', 'WebSocket'] as const) {
    it(`B hears nothing of A's through any subscription, over ${over}; A hears it through the same`, async () => {
      const listen = (who: keyof typeof token, query: string): Promise<Listener> => (over === 'SSE' ? overSse(url, token[who], { query }) : overWebSocket(url, token[who], { query }));
      const cases = Object.entries(subscriptions());
      const bob = await Promise.all(cases.map(([, { query }]) => listen('bob', query)));
      const alice = await Promise.all(cases.map(([, { query }]) => listen('alice', query)));
      try {
        // Past the subscriptions' own start (the WebSocket's operations are sent once it is open).
        await new Promise((resolve) => setTimeout(resolve, 300));
        for (const [, { publish }] of cases) await publish?.();
        await expect.poll(() => cases.every(([, { publish }], index) => !publish || alice[index]!.messages.length > 0), { timeout: 10_000 }).toBe(true);
        const told = (field: string, heard: string) => [...leaks(heard), ...(subscriptions()[field]!.tells && heard.includes(subscriptions()[field]!.tells!) ? [subscriptions()[field]!.tells!] : [])];
        cases.forEach(([field], index) => {
          const heard = bob[index]!.messages.join('\n');
          expect(told(field, heard), `${field} as B: ${heard}`).toEqual([]);
          if (field === 'jobLog') expect(heard, `jobLog as B: ${heard}`).toMatch(/NotFoundError/);
        });
        cases.forEach(([field, { publish }], index) => {
          if (publish) expect(told(field, alice[index]!.messages.join('\n')).length, `${field} as A`).toBeGreaterThan(0);
        });
      } finally {
        for (const listener of [...bob, ...alice]) listener.stop();
      }
    });
  }
});
