// Launch failures that used to be unclear, against the real lab through the real sshd and the server's HTTP API:
// one previewed launch submitted several times at once, and a 50 kB search.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../server/main.js';
import { authHeaders, createTestToken, graphqlClient } from '../graphql-client.js';
import { createFixtureRepo } from './fixture-repo.js';
import { labClustersYaml, labForSuite, onLab } from './lab-env.js';
import { captureLogs } from '../../server/lib/log.js';

const lab = labForSuite('lab launch-failures suite');

describe.skipIf(!lab)('launch failures on the lab', () => {
  let running: Awaited<ReturnType<typeof startServer>>;
  let token: string;
  let request: ReturnType<typeof graphqlClient>;
  let projectId: number;

  beforeAll(async () => {
    const repo = createFixtureRepo(lab!.user);
    const dir = mkdtempSync(join(tmpdir(), 'mc-launch-failures-'));
    writeFileSync(join(dir, 'clusters.yaml'), labClustersYaml(lab!));
    running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false });
    token = await createTestToken(running.services);
    request = graphqlClient(running.url, token);
    const added = await request(`mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } ... on Error { message } } }`, { path: repo.work });
    projectId = added.addProject.data.id;
  });
  afterAll(async () => {
    await running?.stop();
  });

  // Before: one launch, and the others "Unexpected error." (a unique index refusing the second insert).
  it('runs one launch submitted five times at once, and tells the other four it is already submitted, as which job', async () => {
    const input = { projectId, cluster: 'lab', primary: 'train', memory: '200M', timeLimit: '5:00', cpusPerTask: 1, parameters: [{ path: 'sleep_seconds', value: 30 }] };
    const preview = await request(`query($input: JobInput!) { previewScript(input: $input) { ... on QueryPreviewScriptSuccess { data { tag } } ... on Error { message } } }`, { input });
    const tag: string = preview.previewScript.data.tag;
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        request(
          `mutation($input: JobInput!, $tag: String) { submitJob(input: $input, tag: $tag) { __typename ... on MutationSubmitJobSuccess { data { id state slurmJobId } } ... on Error { message } ... on LaunchAlreadySubmittedError { field jobId } } }`,
          { input, tag },
        ).then((data) => data.submitJob),
      ),
    );
    const launched = answers.filter((answer) => answer.__typename === 'MutationSubmitJobSuccess');
    expect(launched).toHaveLength(1);
    const job = launched[0].data;
    expect(job).toMatchObject({ state: 'PENDING', slurmJobId: expect.stringMatching(/^\d+$/) });
    const others = answers.filter((answer) => answer !== launched[0]);
    expect(others).toEqual(
      Array.from({ length: 4 }, () => ({ __typename: 'LaunchAlreadySubmittedError', field: 'tag', jobId: job.id, message: `tag: this launch is already submitted, as job ${job.id}; open that job, or preview again for a new launch` })),
    );
    // SLURM got it once.
    const queued = onLab(lab!, `squeue -h -t all -u "$(id -un)" -o '%i|%Z'`).stdout.split('\n').filter((line) => line.endsWith(`/jobs/${tag}/code`));
    expect(queued).toEqual([`${job.slurmJobId}|/home/${lab!.user}/mission-control/jobs/${tag}/code`]);
    onLab(lab!, `scancel ${job.slurmJobId}`);
  }, 60_000);

  // Before: SQLite refused the LIKE pattern ("too complex" past 50,000 bytes), and the masked error was logged with
  // its statement, the 50 kB inlined.
  it('answers a 50 kB search without running it, and logs no 50 kB line', async () => {
    // Every line the server logs, at every level (server/lib/log.ts), as written.
    const logs = captureLogs('trace');
    try {
      const response = await fetch(`${running.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...authHeaders(token) },
        body: JSON.stringify({ query: 'query($s: String) { jobs(filter: { search: $s }) { nodes { id } } }', variables: { s: 'resnet '.repeat(7_200) } }),
      });
      const body = (await response.json()) as { data?: { jobs?: unknown } | null; errors?: unknown[] };
      expect(body.data?.jobs ?? null).toBeNull();
    } finally {
      logs.stop();
    }
    expect(logs.lines.length).toBeGreaterThan(0);
    expect(logs.lines.map((line) => line.length).filter((length) => length > 2_000)).toEqual([]);
  });
});
