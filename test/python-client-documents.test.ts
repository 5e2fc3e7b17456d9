// The Python client (clients/python/mission_control.py) without a server: every GraphQL document it sends is valid
// against schema/schema.graphql and within the server's document limits, its error classes are the schema's error
// types, and its final job states are the server's.
// The lab suite (test/lab/python-client.test.ts) runs it against a real server; this one fails at once when the
// schema changes under it.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { buildSchema, parse, validate, type GraphQLInterfaceType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { QUERY_LIMITS } from '../server/http/app.js';
import { TERMINAL_STATES } from '../server/slurm/state.js';
import { PYTHON } from './hydra/oracle.js';

const CLIENT_DIR = new URL('../clients/python/', import.meta.url).pathname;
// Debian's python3 imports the client and says what it holds; the documents are module constants named for their kind.
const described = JSON.parse(
  execFileSync(
    PYTHON,
    [
      '-c',
      `import json, sys
sys.path.insert(0, ${JSON.stringify(CLIENT_DIR)})
import mission_control as mc
documents = {name: value for name, value in vars(mc).items() if name.endswith(('_QUERY', '_MUTATION', '_SUBSCRIPTION'))}
print(json.dumps({'documents': documents, 'final': sorted(mc.FINAL_STATES), 'errorClasses': sorted(mc.ResultError._by_typename)}))`,
    ],
    { encoding: 'utf8', env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } },
  ),
) as { documents: Record<string, string>; final: string[]; errorClasses: string[] };

const schema = buildSchema(readFileSync(new URL('../schema/schema.graphql', import.meta.url), 'utf8'));

describe('the Python client', () => {
  it('has a document for every call', () => {
    expect(Object.keys(described.documents).sort()).toEqual([
      'CANCEL_MUTATION', 'FOLLOW_SUBSCRIPTION', 'JOBS_QUERY', 'JOB_QUERY', 'LOG_QUERY', 'METRICS_QUERY', 'PREVIEW_QUERY', 'PREVIEW_SWEEP_QUERY',
      'PROJECTS_QUERY', 'SUBMIT_MUTATION', 'SUBMIT_SWEEP_MUTATION', 'SWEEP_METRICS_QUERY', 'SWEEP_QUERY',
    ]);
  });

  it.each(Object.entries(described.documents))('sends %s valid against the schema and within the server’s token limit', (_name, document) => {
    // parse() refuses a document beyond the limit, as the server's armor does.
    const errors = validate(schema, parse(document, { maxTokens: QUERY_LIMITS.maxTokens.n }));
    expect(errors.map((error) => error.message)).toEqual([]);
  });

  it('names each typed error class for an error type of the schema (the class a result is raised as)', () => {
    const errorTypes = schema.getImplementations(schema.getType('Error') as GraphQLInterfaceType).objects.map((type) => type.name);
    expect(described.errorClasses.length).toBeGreaterThan(5);
    expect(errorTypes).toEqual(expect.arrayContaining(described.errorClasses));
  });

  it("stops following at the server's final states", () => {
    expect(described.final).toEqual([...TERMINAL_STATES].sort());
  });
});
