// A job list as a client reads it, executed against the schema on an in-memory database: the list leaves each job's
// script and launch settings in the database (server/jobs/queries.ts), and the fields that show them still do.
import { graphql } from 'graphql';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createJobRow, insertProject, jobInput } from '../test/factories.js';
import { initOrm, type Orm } from '../server/db/orm.js';
import { createServices, type Context, type Services } from '../server/services.js';
import { schema } from './index.js';

let orm: Orm;
let services: Services;
let ids: number[];

beforeAll(async () => {
  orm = await initOrm(':memory:');
  services = createServices({ orm, config: { file: 'test.yaml', clusters: [] } });
  const em = orm.em.fork();
  const project = await insertProject(em);
  const waiting = createJobRow(em, { cluster: 'alpha', state: 'PENDING', projectId: project.id, name: 'vit-large-waiting' });
  waiting.input = { ...jobInput(project.id, { gpusPerNode: 2, gpuType: 'a100' }), dependsOn: [{ kind: 'afterok', jobId: 1, sweepId: null }] };
  waiting.reason = 'Resources';
  waiting.script = '#!/bin/bash\n#SBATCH --gres=gpu:a100:2\n';
  const done = createJobRow(em, { cluster: 'alpha', state: 'COMPLETED', projectId: project.id, name: 'vit-large-done' });
  await em.flush();
  // Newest first, as the list gives them.
  ids = [done.id, waiting.id];
});
afterAll(async () => {
  await services.close();
  await orm.close();
});

async function list(fields: string, search = 'vit-large') {
  const statements: string[] = [];
  const knex = orm.em.getConnection().getKnex();
  const listen = (query: { sql: string }) => statements.push(query.sql);
  knex.on('query', listen);
  try {
    const contextValue: Context = { em: orm.em.fork(), services, session: { tokenName: null, tokenId: null, readOnly: false, authRequired: false, userId: 1, admin: true } };
    const source = `query ($search: String) { jobs(filter: { search: $search }) { nodes { id ${fields} } } }`;
    const result = await graphql({ schema, source, variableValues: { search }, contextValue });
    expect(result.errors).toBeUndefined();
    return { nodes: (result.data as any).jobs.nodes as Array<Record<string, unknown>>, statements };
  } finally {
    knex.off('query', listen);
  }
}

it("gives a listed job's script, settings, dependencies and what it waits for, reading them once for the page", async () => {
  const { nodes, statements } = await list('script input { gpusPerNode gpuType } dependsOn { kind jobId } waitingFor reasonExplained { summary }');
  expect(nodes).toEqual([
    { id: ids[0], script: '#!/bin/bash\n', input: { gpusPerNode: 0, gpuType: null }, dependsOn: [], waitingFor: null, reasonExplained: null },
    { id: ids[1], script: '#!/bin/bash\n#SBATCH --gres=gpu:a100:2\n', input: { gpusPerNode: 2, gpuType: 'a100' }, dependsOn: [{ kind: 'AFTEROK', jobId: 1 }], waitingFor: 'waiting for 2 A100s (Resources)', reasonExplained: { summary: 'waiting for 2 A100s' } },
  ]);
  // The search's ids, the page's rows, then both jobs' settings and scripts together.
  expect(statements).toHaveLength(3);
  expect(statements[2]).toMatch(/[`"]script[`"]/);
});

it("reads only a pending job's settings for what the app's rows show, and no script", async () => {
  const { nodes, statements } = await list('name state waitingFor');
  expect(nodes.map((node) => node.waitingFor)).toEqual([null, 'waiting for 2 A100s (Resources)']);
  expect(statements).toHaveLength(3);
  expect(statements.slice(0, 2).join('\n')).not.toMatch(/[`"](script|input)[`"]/);
  expect(statements[2]).toMatch(new RegExp(`in \\(${ids[1]}\\)`));
});
