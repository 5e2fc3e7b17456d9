// A group server's users each reach the lab through their own account (issue 21, "each user's own cluster login"):
// the owner through the cluster entry's own login (mlops), alice through hers under `logins` (mlops2, her own key),
// bob through none. A real server process against the real lab sshd and SLURM; on both engines.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createTokenService } from '../../server/access/tokens.js';
import { createUserService } from '../../server/access/users.js';
import { initOrm } from '../../server/db/orm.js';
import { databaseArgs } from '../database-engine.js';
import { createTestToken, graphqlClient } from '../graphql-client.js';
import { startServerProcess, type ServerProcess } from '../server-process.js';
import { createFixtureRepo } from './fixture-repo.js';
import { labClusterEntry, labForSuite, labLoginEntry, onLab } from './lab-env.js';

const lab = labForSuite('lab logins suite');

describe.skipIf(!lab)("each user's own login to the lab", () => {
  let server: ServerProcess;
  let url: string;
  const tokens = { owner: '', alice: '', bob: '' };
  const projects = { owner: 0, alice: 0, bob: 0 };
  const as = (user: keyof typeof tokens) => graphqlClient(url, tokens[user]);

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-logins-'));
    const dataDir = join(dir, 'data');
    writeFileSync(join(dir, 'clusters.yaml'), stringify({ clusters: { lab: { ...labClusterEntry(lab!), logins: { alice: labLoginEntry(lab!) } } } }));
    // As `npm run user -- add` and `npm run token -- create --user` would, before the server starts.
    const orm = await initOrm(join(dataDir, 'mission-control.sqlite'));
    try {
      const users = createUserService({ orm });
      const service = { tokens: createTokenService({ orm }) };
      tokens.owner = await createTestToken(service);
      tokens.alice = await createTestToken(service, { userId: (await users.add('alice')).id });
      tokens.bob = await createTestToken(service, { userId: (await users.add('bob')).id });
    } finally {
      await orm.close();
    }
    server = await startServerProcess(['--config', join(dir, 'clusters.yaml'), '--data-dir', dataDir, ...(await databaseArgs(dataDir))]);
    url = server.url;
    // Each user's own repository, owned by the account that clones it (git refuses another owner's).
    const repos = { owner: createFixtureRepo(lab!.user), alice: createFixtureRepo(lab!.otherUser.user), bob: createFixtureRepo(lab!.user) };
    for (const user of ['owner', 'alice', 'bob'] as const) {
      const added = await as(user)(`mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } ... on Error { message } } }`, { path: repos[user].work });
      projects[user] = added.addProject.data.id;
    }
  }, 120_000);

  afterAll(() => {
    server?.child.kill('SIGKILL');
  });

  const launch = async (user: keyof typeof tokens) => {
    const input = { projectId: projects[user], cluster: 'lab', primary: 'train', memory: '200M', timeLimit: '5:00', cpusPerTask: 1, parameters: [{ path: 'sleep_seconds', value: 2 }] };
    const data = await as(user)(`mutation($input: JobInput!) { submitJob(input: $input) { __typename ... on MutationSubmitJobSuccess { data { id } } ... on Error { message } } }`, { input });
    return data.submitJob as { __typename: string; data?: { id: number }; message?: string };
  };
  const jobOf = async (user: keyof typeof tokens, id: number) =>
    (await as(user)(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { state slurmJobId script exitCode } } } }`, { id })).job.data as { state: string; slurmJobId: string; script: string; exitCode: number | null };
  const homeOf = (account: string) => onLab(lab!, `getent passwd ${account} | cut -d: -f6`).stdout.trim();

  it("runs each user's job as their own account, in their own home, and follows both to their end", async () => {
    const [owner, alice] = [await launch('owner'), await launch('alice')];
    expect([owner.__typename, alice.__typename]).toEqual(['MutationSubmitJobSuccess', 'MutationSubmitJobSuccess']);
    for (const [user, job] of [['owner', owner], ['alice', alice]] as const) {
      await expect.poll(async () => (await jobOf(user, job.data!.id)).state, { timeout: 120_000, interval: 1000 }).toBe('COMPLETED');
    }
    const [ownerJob, aliceJob] = [await jobOf('owner', owner.data!.id), await jobOf('alice', alice.data!.id)];
    expect([ownerJob.exitCode, aliceJob.exitCode]).toEqual([0, 0]);
    // SLURM's own word on whose job each was (accounting, asked on the lab as mlops: PrivateData is off).
    const accountOf = (slurmJobId: string) => onLab(lab!, `sacct -X -n -P -o User -j ${slurmJobId}`).stdout.trim();
    expect(accountOf(ownerJob.slurmJobId)).toBe(lab!.user);
    expect(accountOf(aliceJob.slurmJobId)).toBe(lab!.otherUser.user);
    // `~/mission-control` is each account's own home: the job directory its script writes to.
    expect(ownerJob.script).toContain(`${homeOf(lab!.user)}/mission-control/jobs/`);
    expect(aliceJob.script).toContain(`${homeOf(lab!.otherUser.user)}/mission-control/jobs/`);
    expect(aliceJob.script).not.toContain(`${homeOf(lab!.user)}/`);
    // Her log is read over her login, from her account's files.
    const log = await as('alice')(`query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { log { ... on JobLogSuccess { data { text } } ... on Error { message } } } } } }`, { id: alice.data!.id });
    expect(log.job.data.log).toEqual({ data: { text: expect.stringMatching(/\S/) } });
  }, 240_000);

  it('refuses a launch by a user without a login on the cluster with a typed error naming what to add, and sends nothing', async () => {
    const refused = await launch('bob');
    expect(refused).toMatchObject({ __typename: 'ValidationError', message: expect.stringMatching(/bob has no login on cluster "lab".*clusters\.lab\.logins\.bob/) });
    const listed = await as('bob')('{ jobs(first: 10) { nodes { id } } }');
    expect(listed.jobs.nodes).toEqual([]);
  });

  it("shows each user the cluster as their own login finds it", async () => {
    const card = async (user: keyof typeof tokens) => (await as(user)('{ clusters { name reachable error } }')).clusters[0] as { reachable: boolean | null; error: string | null };
    await expect.poll(async () => (await card('alice')).reachable, { timeout: 30_000 }).toBe(true);
    await expect.poll(async () => (await card('bob')).reachable, { timeout: 30_000 }).toBe(false);
    expect((await card('bob')).error).toMatch(/bob has no login on cluster "lab"/);
    expect((await card('owner')).reachable).toBe(true);
  });
});
