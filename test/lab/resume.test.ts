// A job that outlives its time limit on the real lab, launched over GraphQL: its own script takes SLURM's USR2,
// lets the fixture's training checkpoint, requeues the job (scontrol requeue), and the restart resumes from the
// checkpoint until the training is done. What is asserted is what SLURM and the job's files say; the server's view
// between runs is recorded and printed (following a job through its restarts is the server side's part).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../server/main.js';
import { createTestToken, graphqlClient } from '../graphql-client.js';
import { createFixtureRepo, type FixtureRepo } from './fixture-repo.js';
import { labClustersYaml, labForSuite, onLab } from './lab-env.js';

const lab = labForSuite('lab resume suite');

const FINAL = ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL'];

describe.skipIf(!lab)('a job that resumes after its time limit, on the lab', () => {
  let running: Awaited<ReturnType<typeof startServer>>;
  let request: ReturnType<typeof graphqlClient>;
  let repo: FixtureRepo;
  let projectId: number;
  const slurmJobIds: string[] = [];

  beforeAll(async () => {
    repo = createFixtureRepo(lab!.user);
    const dir = mkdtempSync(join(tmpdir(), 'mc-resume-'));
    writeFileSync(join(dir, 'clusters.yaml'), labClustersYaml(lab!));
    running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false });
    request = graphqlClient(running.url, await createTestToken(running.services));
    const added = await request(`mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } ... on Error { message } } }`, { path: repo.work });
    projectId = added.addProject.data.id;
  });
  afterAll(async () => {
    if (slurmJobIds.length > 0) onLab(lab!, `scancel ${slurmJobIds.join(' ')} 2>/dev/null; true`);
    await running?.stop();
  });

  /** scontrol's key=value fields of the job (kept MinJobAge after its end). */
  const scontrolJob = (id: string): Record<string, string> => {
    const text = onLab(lab!, `scontrol show job -o ${id}`).stdout;
    return Object.fromEntries([...text.matchAll(/(\w+)=(\S*)/g)].map((match) => [match[1]!, match[2]!]));
  };

  /** Follows SLURM's job (or array task) to its end, writing down what the server shows meanwhile. */
  async function followToEnd(slurmId: string, serverState: () => Promise<string>): Promise<Record<string, string>> {
    const seen: string[] = [];
    let slurm: Record<string, string> = {};
    const deadline = Date.now() + 11 * 60_000;
    while (Date.now() < deadline) {
      slurm = scontrolJob(slurmId);
      const line = `${await serverState()} (slurm ${slurm.JobState} restarts ${slurm.Restarts})`;
      if (seen.at(-1) !== line) seen.push(line);
      if (FINAL.includes(slurm.JobState ?? '')) break;
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
    console.log(`server and SLURM while ${slurmId} ran:\n  ${seen.join('\n  ')}`);
    return slurm;
  }

  /** What SLURM and the job's files say of a job (or array task) that resumed: its number of restarts. */
  function expectResumed(slurmId: string, slurm: Record<string, string>): number {
    expect(slurm.JobState).toBe('COMPLETED');
    const restarts = Number(slurm.Restarts);
    expect(restarts).toBeGreaterThanOrEqual(1);
    expect(restarts).toBeLessThanOrEqual(2);
    // Accounting keeps each run: one REQUEUED record per restart before the last run's COMPLETED.
    const runs = onLab(lab!, `sacct -j ${slurmId} -D -X -n -P -o JobID,State,Start,End`).stdout.trim().split('\n');
    console.log(`sacct -D of ${slurmId}:\n  ${runs.join('\n  ')}`);
    expect(runs.map((run) => run.split('|')[1])).toEqual([...Array<string>(restarts).fill('REQUEUED'), 'COMPLETED']);

    const log = onLab(lab!, `cat ${slurm.StdOut}`).stdout.replaceAll('\r', '\n');
    const checkpoints = [...log.matchAll(/checkpoint at step (\d+)/g)].map((match) => Number(match[1]));
    const resumed = [...log.matchAll(/resumed from step (\d+)/g)].map((match) => Number(match[1]));
    console.log(`${slurmId}: checkpoints at ${checkpoints.join(', ')}; resumed from ${resumed.join(', ')}`);
    expect(checkpoints).toHaveLength(restarts);
    expect(resumed).toEqual(checkpoints);
    expect(resumed[0]).toBeGreaterThan(0);
    expect(log).toContain(`mission-control: restart ${restarts} of 2, with +resume=true`);
    expect(log).toMatch(/\ndone\n/);

    // The events the server reads: `requeued <n>` for the last requeue, `finished 0` only at the real end.
    const events = `${dirname(slurm.StdOut!)}/events`;
    expect(onLab(lab!, `cat ${events}/requeued`).stdout).toMatch(new RegExp(`^\\d+ \\S+ ${restarts}\\n$`));
    expect(onLab(lab!, `cat ${events}/finished`).stdout).toMatch(/^\d+ \S+ 0\n$/);
    return restarts;
  }

  it('is requeued by its own script, resumes from its checkpoint and ends COMPLETED with 1 or 2 restarts; so are the tasks of a sweep', async () => {
    // 15 steps of 8 s (120 s of training) under a 2-minute limit: SLURM signals 30 s before the limit, or up to a
    // minute earlier, so a run trains 30 to 120 s; each requeued run waits SLURM's ~2 min before it may start again.
    const input = {
      projectId,
      cluster: 'lab',
      primary: 'train',
      memory: '200M',
      timeLimit: '2:00',
      parameters: [
        { path: 'sleep_seconds', value: 120 },
        { path: 'epochs', value: 3 },
      ],
      resume: { maxRestarts: 2, signalSeconds: 30, override: '+resume=true' },
    };
    const submitted = await request(
      `mutation($input: JobInput!) { submitJob(input: $input) { __typename ... on MutationSubmitJobSuccess { data { id slurmJobId script input { resume { maxRestarts signalSeconds override } } } } ... on Error { message } } }`,
      { input },
    );
    const job = submitted.submitJob.data;
    expect(job, JSON.stringify(submitted)).toBeTruthy();
    slurmJobIds.push(job.slurmJobId);
    expect(job.script).toContain('#SBATCH --signal=B:USR2@30');
    expect(job.script).toContain('#SBATCH --requeue');
    expect(job.input.resume).toEqual({ maxRestarts: 2, signalSeconds: 30, override: '+resume=true' });

    // A sweep shares JobInput: each task requeues itself by its own id (<array>_<index>).
    const sweepSubmitted = await request(
      `mutation($input: SweepInput!) { submitSweep(input: $input) { __typename ... on MutationSubmitSweepSuccess { data { id arrayJobId runs { index task { id slurmJobId } } } } ... on Error { message } } }`,
      { input: { job: input, sweep: ['seed=1,2'] } },
    );
    const sweep = sweepSubmitted.submitSweep.data;
    expect(sweep, JSON.stringify(sweepSubmitted)).toBeTruthy();
    slurmJobIds.push(sweep.arrayJobId);
    const taskIds = sweep.runs.map((run: { index: number }) => `${sweep.arrayJobId}_${run.index}`);

    const serverState = (id: number) => async () => {
      const shown = (await request(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { state slurmState reason } } } }`, { id })).job.data;
      return `${shown?.state}/${shown?.slurmState}/${shown?.reason ?? ''}`;
    };
    const ended = await Promise.all([
      followToEnd(job.slurmJobId, serverState(job.id)),
      ...taskIds.map((taskId: string, index: number) => followToEnd(taskId, serverState(sweep.runs[index].task.id))),
    ]);
    expectResumed(job.slurmJobId, ended[0]!);
    taskIds.forEach((taskId: string, index: number) => expectResumed(taskId, ended[index + 1]!));
  }, 12 * 60_000);
});
