// Hostile repositories against the real server and the real lab: a project directory whose git configuration names
// programs (fsmonitor, hooks, filter and diff drivers, gpg, pagers, credential helpers, transports) goes through
// addProject, syncProject, previewScript and submitJob. Nothing it names may run, here or on the cluster (the lab
// user on this machine); what cannot be used safely (a work tree elsewhere, an origin that runs a program) is
// refused with a typed error naming its field; and the same repository, and a clean one, still launch.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Project } from '../../server/db/entities.js';
import { startServer } from '../../server/main.js';
import { submitBatch } from '../../server/slurm/jobs.js';
import { createTestToken, graphqlClient } from '../graphql-client.js';
import { createFixtureRepo } from './fixture-repo.js';
import { labClustersYaml, labForSuite, onLab } from './lab-env.js';

const lab = labForSuite('lab hostile-repository git suite');

const CANARY_PREFIX = `/tmp/mc-canary-repo-git-${process.pid}-${randomBytes(4).toString('hex')}`;
const canary = (name: string) => `${CANARY_PREFIX}-${name}`;

const HOOKS = [
  'applypatch-msg', 'pre-applypatch', 'post-applypatch', 'pre-commit', 'pre-merge-commit', 'prepare-commit-msg', 'commit-msg', 'post-commit',
  'pre-rebase', 'post-checkout', 'post-merge', 'pre-push', 'pre-receive', 'update', 'proc-receive', 'post-receive', 'post-update',
  'reference-transaction', 'push-to-checkout', 'pre-auto-gc', 'post-rewrite', 'sendemail-validate', 'fsmonitor-watchman', 'post-index-change',
];

const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-C', cwd, ...args], { encoding: 'utf8' }).trim();

/** Every key of the corpus in server/git.test.ts that is read as usual (not refused), at once, each with its canary. */
function arm(work: string): void {
  const hooks = mkdtempSync(join(tmpdir(), 'mc-hostile-hooks-'));
  for (const hook of HOOKS) {
    for (const dir of [hooks, join(work, '.git', 'hooks')]) {
      writeFileSync(join(dir, hook), `#!/bin/sh\ntouch '${canary(`hook-${hook}`)}'\nexit 1\n`);
      chmodSync(join(dir, hook), 0o755);
    }
  }
  const include = join(mkdtempSync(join(tmpdir(), 'mc-hostile-include-')), 'config');
  writeFileSync(include, `[core]\n\tfsmonitor = touch '${canary('include-fsmonitor')}'; false\n[filter "inc"]\n\tclean = touch '${canary('include-filter')}'; cat\n\trequired = true\n`);
  writeFileSync(join(work, '.git', 'info', 'attributes'), '* filter=x diff=x\n*.py filter=inc\n');
  const settings: Array<[string, string]> = [
    ['core.fsmonitor', `touch '${canary('fsmonitor')}'; false`],
    ['core.hooksPath', hooks],
    ['core.sshCommand', `touch '${canary('ssh-command')}'; false`],
    ['core.pager', `touch '${canary('pager')}'; cat`],
    ['core.editor', `touch '${canary('editor')}'; false`],
    ['core.askPass', `touch '${canary('askpass')}'; false`],
    ['core.alternateRefsCommand', `touch '${canary('alternate-refs')}'; false`],
    ['diff.external', `touch '${canary('diff-external')}'; false`],
    ['filter.x.clean', `touch '${canary('filter-clean')}'; cat`],
    ['filter.x.smudge', `touch '${canary('filter-smudge')}'; cat`],
    ['filter.x.process', `touch '${canary('filter-process')}'; false`],
    ['filter.x.required', 'true'],
    ['diff.x.textconv', `touch '${canary('textconv')}'; cat`],
    ['diff.x.command', `touch '${canary('diff-command')}'; false`],
    ['log.showSignature', 'true'],
    ['gpg.program', `${hooks}/pre-commit`],
    ['credential.helper', `!touch '${canary('credential')}'; false`],
    ['uploadpack.packObjectsHook', `touch '${canary('pack-objects-hook')}'; false`],
    ['remote.origin.uploadpack', `touch '${canary('upload-pack')}'; false`],
    ['alias.status', `!touch '${canary('alias')}'`],
    ['alias.log', `!touch '${canary('alias')}'`],
    ['gc.auto', '1'],
    ['include.path', include],
  ];
  for (const [key, value] of settings) git(work, 'config', '--add', key, value);
  // Dirty: a changed file, a file touched but unchanged, an untracked file.
  writeFileSync(join(work, 'train.py'), `${execFileSync('cat', [join(work, 'train.py')], { encoding: 'utf8' })}\n# edited\n`);
  const later = new Date(Date.now() + 5_000);
  execFileSync('touch', ['-d', later.toISOString(), join(work, 'README.md')]);
  writeFileSync(join(work, 'untracked.txt'), 'x');
}

describe.skipIf(!lab)('hostile repositories against the server and the lab', () => {
  let running: Awaited<ReturnType<typeof startServer>>;
  let request: ReturnType<typeof graphqlClient>;
  const baseInput = (projectId: number) => ({ projectId, cluster: 'lab', primary: 'train', memory: '200M', timeLimit: '5:00', cpusPerTask: 1, parameters: [{ path: 'sleep_seconds', value: 1 }] });

  const PROJECT = 'id localPath dirty pushed headSha originUrl cloneUrl';
  const addProject = async (path: string) =>
    (await request(`mutation($p: String!) { addProject(localPath: $p) { __typename ... on MutationAddProjectSuccess { data { ${PROJECT} } } ... on ValidationError { field message } ... on Error { message } } }`, { p: path })).addProject;
  const syncProject = async (id: number) =>
    (await request(`mutation($id: Int!) { syncProject(id: $id) { __typename ... on MutationSyncProjectSuccess { data { ${PROJECT} } } ... on ValidationError { field message } ... on Error { message } } }`, { id })).syncProject;
  const preview = async (projectId: number) =>
    (await request('query($i: JobInput!) { previewScript(input: $i) { __typename ... on QueryPreviewScriptSuccess { data { script } } ... on Error { message } } }', { i: baseInput(projectId) })).previewScript;
  const submit = async (projectId: number) => {
    const answer = (await request('mutation($i: JobInput!) { submitJob(input: $i) { __typename ... on MutationSubmitJobSuccess { data { id tag state submitError } } ... on Error { message } } }', { i: baseInput(projectId) })).submitJob;
    expect(answer.__typename, JSON.stringify(answer)).toBe('MutationSubmitJobSuccess');
    return answer.data as { id: number; tag: string; state: string; submitError: string | null };
  };
  const finalState = async (id: number) => {
    let state = '';
    await expect
      .poll(async () => (state = (await request('mutation($id: Int!) { refreshJob(id: $id) { ... on MutationRefreshJobSuccess { data { state } } } }', { id })).refreshJob.data.state), { timeout: 90_000, interval: 2000 })
      .toSatisfy((current: string) => ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'SUBMIT_FAILED'].includes(current));
    return state;
  };

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-hostile-repo-git-'));
    writeFileSync(join(dir, 'clusters.yaml'), labClustersYaml(lab!));
    running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false });
    request = graphqlClient(running.url, await createTestToken(running.services));
  });
  afterAll(async () => {
    await running?.stop();
  });

  it('reads, previews and launches a repository armed with every program-naming key, and runs none of them', async () => {
    const repo = createFixtureRepo(lab!.user);
    // Committed attributes reach the cluster's checkout too, where no driver of that name exists.
    repo.commit('attributes', { '.gitattributes': '* filter=x diff=x\n' });
    arm(repo.work);
    const added = await addProject(repo.work);
    expect(added, JSON.stringify(added)).toMatchObject({ __typename: 'MutationAddProjectSuccess', data: { localPath: repo.work, dirty: true, pushed: true } });
    const synced = await syncProject(added.data.id);
    expect(synced).toMatchObject({ __typename: 'MutationSyncProjectSuccess', data: { dirty: true, pushed: true } });
    expect((await preview(added.data.id)).__typename).toBe('QueryPreviewScriptSuccess');
    const job = await submit(added.data.id);
    expect(await finalState(job.id)).toBe('COMPLETED');
  }, 180_000);

  it('still launches a clean repository', async () => {
    const repo = createFixtureRepo(lab!.user);
    const added = await addProject(repo.work);
    expect(added).toMatchObject({ __typename: 'MutationAddProjectSuccess', data: { dirty: false, pushed: true } });
    const job = await submit(added.data.id);
    expect(await finalState(job.id)).toBe('COMPLETED');
  }, 180_000);

  it('refuses a work tree that is not the given directory, naming localPath', async () => {
    // Another repository's work tree would be read (and launched from) as this project's.
    const other = createFixtureRepo(lab!.user);
    for (const worktree of ['/etc', '/', '../..', other.work]) {
      const repo = createFixtureRepo(lab!.user);
      git(repo.work, 'config', 'core.worktree', worktree);
      expect(await addProject(repo.work), worktree).toMatchObject({ __typename: 'ValidationError', field: 'localPath' });
    }
  });

  it('refuses origins that would run a program, on add and on sync, naming origin', async () => {
    const origins = [
      `ext::sh -c touch% ${canary('ext')}`, 'fd::0', `mc-helper::${canary('helper')}`, `mc-helper://host/${canary('scheme')}`,
      `--upload-pack=touch ${canary('option')}`, `ssh://-oProxyCommand=touch%20${canary('ssh-option')}/x`, `-oProxyCommand=touch:x`, 'git@host:x\u001b]0;t\u0007',
    ];
    for (const origin of origins) {
      const repo = createFixtureRepo(lab!.user);
      git(repo.work, 'config', 'protocol.allow', 'always');
      git(repo.work, 'config', 'remote.origin.url', origin);
      expect(await addProject(repo.work), origin).toMatchObject({ __typename: 'ValidationError', field: 'origin' });
    }
    // A project added while its origin was fine, then turned hostile: sync refuses it and keeps the stored one.
    const repo = createFixtureRepo(lab!.user);
    const added = await addProject(repo.work);
    git(repo.work, 'config', 'remote.origin.url', `ext::sh -c touch% ${canary('ext-sync')}`);
    expect(await syncProject(added.data.id)).toMatchObject({ __typename: 'ValidationError', field: 'origin' });
    expect((await request(`query { projects { id cloneUrl } }`)).projects).toContainEqual({ id: added.data.id, cloneUrl: repo.origin });
  });

  // A project stored before origins were checked keeps its URL in the database: the cluster's git refuses it.
  // A launch reads the repository afresh (issue 14, point 11), so the stale URL is replaced by the checked origin
  // before anything reaches the cluster; the cluster's own guard is proven by handing it the URL directly.
  it('launches from the checked origin, not a hostile URL already stored, and the cluster refuses such a URL anyway', async () => {
    const repo = createFixtureRepo(lab!.user);
    const added = await addProject(repo.work);
    const em = running.services.orm.em.fork();
    await em.nativeUpdate(Project, { id: added.data.id }, { cloneUrl: `ext::sh -c touch% ${canary('stored-ext')}` });
    const job = await submit(added.data.id);
    expect(await finalState(job.id)).toBe('COMPLETED');
    expect((await request(`query { projects { id cloneUrl } }`)).projects).toContainEqual({ id: added.data.id, cloneUrl: repo.origin });

    // The login the launch above went over: the token's user, the first admin (id 1).
    const transport = await running.services.clusters.transport('lab', 1);
    const jobDir = `/tmp/mc-checkout-guard-${randomBytes(4).toString('hex')}`;
    const refused = submitBatch(transport, {
      cloneUrl: `ext::sh -c touch% ${canary('direct-ext')}`,
      repoDir: `${jobDir}/repo`,
      commitSha: git(repo.work, 'rev-parse', 'HEAD').trim(),
      workDir: `${jobDir}/code`,
      jobDir,
      script: '#!/bin/bash\ntrue\n',
    });
    await expect(refused).rejects.toThrow(/transport 'ext' not allowed[\s\S]*could not check out|could not check out[\s\S]*transport 'ext' not allowed/);
    onLab(lab!, `rm -rf ${jobDir}`);
  }, 120_000);

  it('left no canary on the lab or on this machine', () => {
    expect(onLab(lab!, `ls -d ${CANARY_PREFIX}* 2>/dev/null; true`).stdout.trim()).toBe('');
    expect(readdirSync('/tmp').filter((name) => `/tmp/${name}`.startsWith(CANARY_PREFIX))).toEqual([]);
  });
});
