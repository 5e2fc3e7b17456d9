// A waiting job's expected start and explained reason, as a client reads them, executed against the schema on an
// in-memory database.
import { graphql } from 'graphql';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createJobRow, insertProject, jobInput } from '../test/factories.js';
import { initOrm, type Orm } from '../server/db/orm.js';
import { createServices, type Context, type Services } from '../server/services.js';
import { schema } from './index.js';

let orm: Orm;
let services: Services;

beforeAll(async () => {
  orm = await initOrm(':memory:');
  services = createServices({ orm, config: { file: 'test.yaml', clusters: [] } });
});
afterAll(async () => {
  await services.close();
  await orm.close();
});

async function job(id: number) {
  const contextValue: Context = { em: orm.em.fork(), services, session: { tokenName: null, tokenId: null, readOnly: false, authRequired: false, userId: 1, admin: true } };
  const source = `query ($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { state reason estimatedStartAt waitingFor reasonExplained { reason summary action blocked known } } } } }`;
  const result = await graphql({ schema, source, variableValues: { id }, contextValue });
  expect(result.errors).toBeUndefined();
  return (result.data as any).job.data;
}

it("gives a pending job's expected start and its reason in words, for what it asked for", async () => {
  const em = orm.em.fork();
  const project = await insertProject(em);
  const row = createJobRow(em, { cluster: 'alpha', state: 'PENDING', projectId: project.id });
  row.input = jobInput(project.id, { gpusPerNode: 2, gpuType: 'a100' });
  row.reason = 'Resources';
  row.estimatedStartAt = new Date('2026-12-05T06:12:00Z');
  await em.flush();
  expect(await job(row.id)).toEqual({
    state: 'PENDING',
    reason: 'Resources',
    estimatedStartAt: '2026-12-05T06:12:00.000Z',
    waitingFor: 'waiting for 2 A100s (Resources)',
    reasonExplained: { reason: 'Resources', summary: 'waiting for 2 A100s', action: expect.stringMatching(/^Nothing to do/), blocked: false, known: true },
  });
});

it('says no estimate and no reason when SLURM gives none, and nothing of the kind once the job runs', async () => {
  const em = orm.em.fork();
  const project = await insertProject(em);
  const waiting = createJobRow(em, { cluster: 'alpha', state: 'PENDING', projectId: project.id });
  waiting.reason = 'JobHeldUser';
  const running = createJobRow(em, { cluster: 'alpha', state: 'RUNNING', projectId: project.id });
  running.reason = 'Resources'; // a stale word: only a waiting job is explained
  await em.flush();
  expect(await job(waiting.id)).toMatchObject({ estimatedStartAt: null, reasonExplained: { summary: expect.stringMatching(/^held/), blocked: true } });
  expect(await job(running.id)).toMatchObject({ estimatedStartAt: null, reasonExplained: null, waitingFor: null });
});

it("gives a reason it does not know as SLURM wrote it, and a known one's code without SLURM's detail", async () => {
  const em = orm.em.fork();
  const project = await insertProject(em);
  const unknown = createJobRow(em, { cluster: 'alpha', state: 'PENDING', projectId: project.id });
  unknown.reason = 'WaitingForTheMoon';
  const nodes = createJobRow(em, { cluster: 'alpha', state: 'PENDING', projectId: project.id });
  nodes.reason = 'ReqNodeNotAvail, UnavailableNodes:gpu-a100';
  await em.flush();
  expect(await job(unknown.id)).toMatchObject({ waitingFor: 'WaitingForTheMoon', reasonExplained: { summary: 'WaitingForTheMoon', action: null, known: false } });
  expect((await job(nodes.id)).waitingFor).toBe('the nodes it can use are down, drained or reserved (gpu-a100) (ReqNodeNotAvail)');
});
