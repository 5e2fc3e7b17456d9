// The server killed (SIGKILL) right after sbatch answered and before the SLURM id was saved: after a restart there
// is exactly one SLURM job and one record, adopted by its tag.
import { spawn, type ChildProcess } from 'node:child_process';
import { databaseArgs } from '../database-engine.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTokenInDataDir, graphqlClient } from '../graphql-client.js';
import { createFixtureRepo } from './fixture-repo.js';
import { labClustersYaml, labForSuite, onLab } from './lab-env.js';

const lab = labForSuite('lab crash suite');

async function startServerProcess(configPath: string, dataDir: string, env: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts', '--config', configPath, '--data-dir', dataDir, ...(await databaseArgs(dataDir)), '--port', '0'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const url = /running at (http:\/\/\S+)/.exec(output)?.[1];
      if (url) resolve({ child, url });
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}) before listening:\n${output}`)));
  });
}


describe.skipIf(!lab)('crash between sbatch and saving its id', () => {
  const children: ChildProcess[] = [];
  afterAll(() => children.forEach((child) => child.kill('SIGKILL')));

  it('adopts the one job SLURM got, once', async () => {
    const repo = createFixtureRepo(lab!.user);
    const dir = mkdtempSync(join(tmpdir(), 'mc-crash-'));
    const configPath = join(dir, 'clusters.yaml');
    writeFileSync(configPath, labClustersYaml(lab!));
    const dataDir = join(dir, 'data');
    const token = await createTokenInDataDir(dataDir);

    const doomed = await startServerProcess(configPath, dataDir, { MC_FAULT: 'kill-after-sbatch' });
    children.push(doomed.child);
    const exited = new Promise((resolve) => doomed.child.once('exit', (_code, signal) => resolve(signal)));
    const request = graphqlClient(doomed.url, token);
    const added = await request(`mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } } }`, { path: repo.work });
    const input = { projectId: added.addProject.data.id, cluster: 'lab', primary: 'train', memory: '200M', timeLimit: '5:00', parameters: [{ path: 'sleep_seconds', value: 30 }] };
    await expect(request(`mutation($input: JobInput!) { submitJob(input: $input) { __typename } }`, { input })).rejects.toThrow();
    expect(await exited).toBe('SIGKILL');

    const revived = await startServerProcess(configPath, dataDir);
    children.push(revived.child);
    const again = graphqlClient(revived.url, token);
    let jobs: Array<{ tag: string; state: string; slurmJobId: string | null }> = [];
    await expect
      .poll(async () => (jobs = (await again('{ jobs { nodes { tag state slurmJobId } } }')).jobs.nodes).map((job: { state: string }) => job.state), { timeout: 30_000 })
      .toEqual([expect.stringMatching(/^(PENDING|RUNNING)$/)]);
    const [job] = jobs;
    expect(job!.slurmJobId).toMatch(/^\d+$/);

    const queued = onLab(lab!, `squeue -h -t all -u ${lab!.user} -o '%i|%Z'`).stdout.split('\n').filter((line) => line.includes(job!.tag));
    expect(queued).toEqual([`${job!.slurmJobId}|${`/home/${lab!.user}/mission-control/jobs/${job!.tag}/code`}`]);
    onLab(lab!, `scancel ${job!.slurmJobId}`);
  });
});
