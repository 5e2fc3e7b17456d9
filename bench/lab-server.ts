// A Mission Control server against the SLURM lab for benchmarks: its own data directory, the fixture project
// added, optionally one completed job (so screens and queries have real data to show).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { startServer } from '../server/main.js';
import { graphqlClient } from '../test/graphql-client.js';
import { createFixtureRepo } from '../test/lab/fixture-repo.js';
import { labClusterEntry, labDir, readLab, type Lab } from '../test/lab/lab-env.js';

export function requireLab(): Lab {
  const lab = readLab();
  if (!lab) throw new Error(`the SLURM lab is not up (no lab.json in ${labDir()}); run \`npm run lab:up\` as root`);
  return lab;
}

export interface LabServerOptions {
  staticDir?: string;
  withCompletedJob?: boolean;
  clusterOptions?: Record<string, unknown>;
}

export async function startLabServer({ staticDir, withCompletedJob = false, clusterOptions = {} }: LabServerOptions = {}) {
  const lab = requireLab();
  const dir = mkdtempSync(join(tmpdir(), 'mc-bench-'));
  // Benchmarks bind to loopback only, where the user may run without tokens: a browser under Lighthouse starts
  // from empty storage and could not hold one.
  writeFileSync(join(dir, 'clusters.yaml'), stringify({ server: { auth: { allowLoopbackWithoutToken: true } }, clusters: { lab: { ...labClusterEntry(lab), ...clusterOptions } } }));
  const running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false, staticDir });
  const request = graphqlClient(running.url);
  const repo = createFixtureRepo(lab.user);
  const added = await request(`mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } ... on Error { message } } }`, { path: repo.work });
  const projectId: number = added.addProject.data.id;

  let jobId: number | undefined;
  if (withCompletedJob) {
    const submitted = await request(`mutation($input: JobInput!) { submitJob(input: $input) { ... on MutationSubmitJobSuccess { data { id } } ... on Error { message } } }`, {
      input: { projectId, cluster: 'lab', primary: 'train', memory: '200M', timeLimit: '5:00', parameters: [{ path: 'sleep_seconds', value: 2 }] },
    });
    if (!submitted.submitJob.data) throw new Error(`could not submit the benchmark's job: ${submitted.submitJob.message}`);
    jobId = submitted.submitJob.data.id as number;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { job } = await request(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { state } } } }`, { id: jobId });
      if (job.data.state === 'COMPLETED') break;
      if (Date.now() > deadline) throw new Error(`the benchmark's job did not complete within 60 s (state ${job.data.state})`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  return {
    url: running.url,
    running,
    request,
    projectId,
    jobId,
    lab,
    /** Stops the server and removes its data directory and the fixture repository. */
    async stop() {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
      rmSync(dirname(repo.work), { recursive: true, force: true });
    },
  };
}
