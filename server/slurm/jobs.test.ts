// The SLURM job commands against a fake transport that answers with outputs recorded in the lab
// (test/fixtures/slurm/) and keeps every argv it was handed; the constant remote scripts also run once through a
// real /bin/sh with stand-in sbatch/squeue/sacct on PATH, since a fake transport cannot tell whether they work.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SlurmError } from '../errors.js';
import { standInShell } from '../../test/stand-in-shell.js';
import type { ExecOptions, ExecResult, Transport } from '../ssh/index.js';
import { CheckoutError, findSubmission, readOutputTail, removeCheckout, submitBatch, type Submission } from './jobs.js';

const recorded = (name: string) => readFileSync(new URL(`../../test/fixtures/slurm/${name}`, import.meta.url), 'utf8');

interface Call {
  argv: string[];
  options: ExecOptions | undefined;
}

type Answer = Partial<ExecResult> | ((argv: string[], options: ExecOptions | undefined) => Partial<ExecResult> | Promise<Partial<ExecResult>>);

function fakeTransport(answer: Answer) {
  const calls: Call[] = [];
  const transport: Transport = {
    async exec(argv, options) {
      calls.push({ argv: [...argv], options });
      const result = typeof answer === 'function' ? await answer([...argv], options) : answer;
      return { stdout: '', stderr: '', exitCode: 0, durationMs: 1, ...result };
    },
    async close() {},
  };
  return { transport, calls };
}

const submission: Submission = {
  cloneUrl: 'git@github.com:acme/resnet.git',
  repoDir: '/home/me/mc/repos/resnet-1.git',
  commitSha: 'a'.repeat(40),
  workDir: '/home/me/mc/jobs/abcdefghij12/code',
  jobDir: '/home/me/mc/jobs/abcdefghij12',
  script: '#!/bin/bash\n#SBATCH --job-name=resnet\npython train.py\n',
};

describe('submitBatch', () => {
  it('passes every value as its own argument and the script on stdin, and returns the id sbatch printed', async () => {
    const { transport, calls } = fakeTransport({ stdout: recorded('sbatch-parsable.txt') });
    expect(await submitBatch(transport, submission)).toBe('56');
    expect(calls).toHaveLength(1);
    const { argv, options } = calls[0]!;
    expect(argv.slice(0, 2)).toEqual(['sh', '-c']);
    // The script's size in bytes comes last, so the cluster can tell a script cut off by a lost connection.
    expect(argv.slice(3)).toEqual(['sh', submission.cloneUrl, submission.repoDir, submission.commitSha, submission.workDir, submission.jobDir, String(Buffer.byteLength(submission.script))]);
    expect(options?.stdin).toBe(submission.script);
  });

  it('reads the plain "Submitted batch job" form and the cluster suffix too', async () => {
    expect(await submitBatch(fakeTransport({ stdout: recorded('sbatch-plain.txt') }).transport, submission)).toBe('57');
    expect(await submitBatch(fakeTransport({ stdout: '58;gpu-cluster\n' }).transport, submission)).toBe('58');
  });

  it('reports a failed checkout (exit 90) as a CheckoutError', async () => {
    const stderr = 'mission-control: could not check out aaaa from git@github.com:acme/resnet.git\n';
    const error = await submitBatch(fakeTransport({ exitCode: 90, stderr }).transport, submission).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CheckoutError);
    expect(error).toMatchObject({ command: 'git checkout', exitCode: 90, stderr });
  });

  it("reports sbatch's refusal as a SlurmError carrying its stderr", async () => {
    const stderr = 'sbatch: error: Batch job submission failed: Invalid partition name specified\n';
    const error = await submitBatch(fakeTransport({ exitCode: 1, stderr }).transport, submission).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SlurmError);
    expect(error).not.toBeInstanceOf(CheckoutError);
    expect(error).toMatchObject({ command: 'sbatch', exitCode: 1, stderr });
    expect((error as Error).message).toContain('Invalid partition name specified');
  });

  it('refuses a successful exit without a job id', async () => {
    await expect(submitBatch(fakeTransport({ stdout: 'sbatch: warning: something odd\n' }).transport, submission)).rejects.toMatchObject({
      name: 'SlurmError',
      command: 'sbatch',
      stderr: 'sbatch: warning: something odd\n',
    });
  });
});

describe('findSubmission', () => {
  it('passes the job and work directories as arguments and reads the id from the first line', async () => {
    const { transport, calls } = fakeTransport({ stdout: '61\n' });
    expect(await findSubmission(transport, submission.jobDir, submission.workDir)).toBe('61');
    expect(calls[0]!.argv.slice(0, 2)).toEqual(['sh', '-c']);
    expect(calls[0]!.argv.slice(3)).toEqual(['sh', submission.jobDir, submission.workDir]);
  });

  it('answers null when SLURM never got the job', async () => {
    expect(await findSubmission(fakeTransport({ stdout: '' }).transport, submission.jobDir, submission.workDir)).toBeNull();
  });

  it('fails when the lookup itself fails', async () => {
    await expect(findSubmission(fakeTransport({ exitCode: 2, stderr: 'sh: cannot open' }).transport, '/j', '/j/code')).rejects.toMatchObject({
      name: 'SlurmError',
      command: 'find submission',
    });
  });
});

describe('readOutputTail', () => {
  it('reads the size header, then the text', async () => {
    const { transport, calls } = fakeTransport({ stdout: '123456\nepoch 3/3\nloss 0.1\n' });
    expect(await readOutputTail(transport, '/home/me/mc/jobs/t/output.log', 4096)).toEqual({ size: 123456, text: 'epoch 3/3\nloss 0.1\n', startsAtFileStart: false });
    expect(calls[0]!.argv.slice(3)).toEqual(['sh', '/home/me/mc/jobs/t/output.log', '4096']);
  });

  it('knows the text starts at the beginning of a file no larger than asked for', async () => {
    expect(await readOutputTail(fakeTransport({ stdout: '10\nhello you\n' }).transport, '/o', 10)).toEqual({ size: 10, text: 'hello you\n', startsAtFileStart: true });
    expect(await readOutputTail(fakeTransport({ stdout: '0\n' }).transport, '/o', 10)).toEqual({ size: 0, text: '', startsAtFileStart: true });
  });

  it('answers size null for a file that does not exist yet', async () => {
    expect(await readOutputTail(fakeTransport({ stdout: 'missing\n' }).transport, '/o', 10)).toEqual({ size: null, text: '', startsAtFileStart: true });
  });

  it('fails when the command fails', async () => {
    await expect(readOutputTail(fakeTransport({ exitCode: 1, stderr: 'boom' }).transport, '/o', 10)).rejects.toMatchObject({ name: 'SlurmError', command: 'tail' });
  });

  // Found by parsers.property.test.ts: a header that is not a size came back as size NaN, which the API cannot show.
  it('fails with a SlurmError when the first line is not a size', async () => {
    for (const stdout of ['\u{10000}', 'Welcome to the cluster\n12\nlog', '']) {
      await expect(readOutputTail(fakeTransport({ stdout }).transport, '/o', 10)).rejects.toMatchObject({ name: 'SlurmError', command: 'tail' });
    }
  });
});

describe('the remote scripts, through a real shell', () => {
  const { root, bin, shell, close } = standInShell('mc-slurm-jobs-');
  const tool = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  const gitEnv = { ...process.env, GIT_CONFIG_GLOBAL: join(root, 'gitconfig'), GIT_CONFIG_NOSYSTEM: '1' };
  writeFileSync(gitEnv.GIT_CONFIG_GLOBAL, '[user]\n\tname = Test\n\temail = test@mc.local\n');
  const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-C', cwd, ...args], { encoding: 'utf8', env: gitEnv }).trim();

  afterAll(async () => {
    await close();
  });

  it('submits: checks the commit out into its own worktree, stores the script, records the id', async () => {
    const origin = join(root, 'origin');
    mkdirSync(origin);
    git(origin, 'init', '-q', '-b', 'main');
    writeFileSync(join(origin, 'train.py'), 'print("hi")\n');
    git(origin, 'add', '.');
    git(origin, 'commit', '-qm', 'first');
    const sha = git(origin, 'rev-parse', 'HEAD');
    tool('sbatch', `echo "$@" > "${root}/sbatch-args"; echo '56;lab'`);
    const jobDir = join(root, 'ws/jobs/abcdefghij12');
    const target = { ...submission, cloneUrl: origin, repoDir: join(root, 'ws/repos/p-1.git'), commitSha: sha, jobDir, workDir: `${jobDir}/code` };

    expect(await submitBatch(shell, target)).toBe('56');
    expect(readFileSync(join(jobDir, 'job.sh'), 'utf8')).toBe(submission.script);
    expect(readFileSync(join(jobDir, 'submitted'), 'utf8')).toBe('56;lab\n');
    expect(readFileSync(join(root, 'sbatch-args'), 'utf8')).toBe(`--parsable ${jobDir}/job.sh\n`);
    expect(readFileSync(join(jobDir, 'code/train.py'), 'utf8')).toBe('print("hi")\n');
    expect(git(`${jobDir}/code`, 'rev-parse', 'HEAD')).toBe(sha);
    expect(existsSync(join(jobDir, 'events'))).toBe(true);
    // The lookup after a lost connection finds the recorded id.
    expect(await findSubmission(shell, jobDir, `${jobDir}/code`)).toBe('56');

    // A commit the origin does not have fails the checkout (exit 90), before sbatch runs.
    rmSync(join(root, 'sbatch-args'));
    const missing = { ...target, commitSha: 'b'.repeat(40), jobDir: join(root, 'ws/jobs/bbbbbbbbbbbb'), workDir: join(root, 'ws/jobs/bbbbbbbbbbbb/code') };
    const checkout = await submitBatch(shell, missing).catch((caught: unknown) => caught);
    expect(checkout).toBeInstanceOf(CheckoutError);
    expect((checkout as CheckoutError).stderr).toContain(`mission-control: could not check out ${'b'.repeat(40)}`);
    expect(existsSync(join(root, 'sbatch-args'))).toBe(false);

    // sbatch refusing the job is SLURM's error, with SLURM's words, and leaves no `submitted` file.
    tool('sbatch', 'echo "sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified" >&2; exit 1');
    const refusedDir = join(root, 'ws/jobs/cccccccccccc');
    const refused = await submitBatch(shell, { ...target, jobDir: refusedDir, workDir: `${refusedDir}/code` }).catch((caught: unknown) => caught);
    expect(refused).toBeInstanceOf(SlurmError);
    expect(refused).not.toBeInstanceOf(CheckoutError);
    expect(refused).toMatchObject({ command: 'sbatch', exitCode: 1, stderr: expect.stringContaining('Invalid account') });
    expect(existsSync(join(refusedDir, 'submitted'))).toBe(false);
  });

  // What the checkout is handed is not trusted: a URL read from a project directory, and a bare clone every job of
  // the user can write to. The cluster user's own config here allows every transport, as a careless one might.
  it('checks out with git that runs no transport program, hook or fsmonitor, whatever the URL or the bare clone says', async () => {
    const userConfig = join(root, 'permissive-gitconfig');
    writeFileSync(userConfig, '[protocol]\n\tallow = always\n[user]\n\tname = Test\n\temail = test@mc.local\n');
    const permissive: Transport = { exec: (argv, options) => shell.exec(['env', `GIT_CONFIG_GLOBAL=${userConfig}`, ...argv], options), close: async () => {} };
    tool('sbatch', "echo '60;lab'");
    const canary = (name: string) => join(root, `canary-${name}`);
    const launch = (name: string, cloneUrl: string) => {
      const jobDir = join(root, `hostile/jobs/${name}`);
      return { ...submission, cloneUrl, repoDir: join(root, `hostile/repos/${name}.git`), jobDir, workDir: `${jobDir}/code` };
    };
    const urls: Array<[string, string]> = [['ext', `ext::sh -c touch% ${canary('ext')}`], ['fd', 'fd::0'], ['helper', 'mc-test-helper::x'], ['scheme', 'mc-test-helper://x/y']];
    for (const [name, url] of urls) {
      tool('git-remote-mc-test-helper', `touch "${canary(name)}"; exit 1`);
      const outcome = await submitBatch(permissive, launch(`${name}xxxxxxxx`.slice(0, 12), url)).catch((caught: unknown) => caught);
      expect(outcome, name).toBeInstanceOf(CheckoutError);
      expect(existsSync(canary(name)), `${name} ran a program`).toBe(false);
    }
    // A URL that reads as an option is a URL (and fails as one), never an option.
    const option = await submitBatch(permissive, launch('optionoption', `--upload-pack=touch ${canary('option')}`)).catch((caught: unknown) => caught);
    expect(option).toBeInstanceOf(CheckoutError);
    expect(existsSync(canary('option'))).toBe(false);

    // A bare clone a job has armed: hooks of every kind and an fsmonitor, then a new launch from it and its removal.
    const origin = join(root, 'hostile-origin');
    mkdirSync(origin);
    git(origin, 'init', '-q', '-b', 'main');
    writeFileSync(join(origin, 'train.py'), 'print("hi")\n');
    git(origin, 'add', '.');
    git(origin, 'commit', '-qm', 'first');
    const first = { ...launch('armedarmed01', origin), commitSha: git(origin, 'rev-parse', 'HEAD') };
    expect(await submitBatch(permissive, first)).toBe('60');
    for (const hook of ['post-checkout', 'reference-transaction', 'post-index-change', 'pre-auto-gc', 'fsmonitor-watchman']) {
      writeFileSync(join(first.repoDir, 'hooks', hook), `#!/bin/sh\ntouch "${canary('hook')}"\n`);
      chmodSync(join(first.repoDir, 'hooks', hook), 0o755);
    }
    git(first.repoDir, 'config', 'core.fsmonitor', `touch "${canary('fsmonitor')}"; false`);
    writeFileSync(join(origin, 'train.py'), 'print("again")\n');
    git(origin, 'commit', '-qam', 'second');
    const second = { ...first, commitSha: git(origin, 'rev-parse', 'HEAD'), jobDir: join(root, 'hostile/jobs/armedarmed02'), workDir: join(root, 'hostile/jobs/armedarmed02/code') };
    expect(await submitBatch(permissive, second)).toBe('60');
    expect(readFileSync(join(second.workDir, 'train.py'), 'utf8')).toBe('print("again")\n');
    writeFileSync(join(second.workDir, 'train.py'), 'changed by the job\n');
    await removeCheckout(permissive, second.workDir);
    expect(existsSync(second.workDir)).toBe(false);
    expect(git(first.repoDir, 'worktree', 'list', '--porcelain')).not.toContain(second.workDir);
    expect(existsSync(canary('hook')), 'a hook ran').toBe(false);
    expect(existsSync(canary('fsmonitor')), 'the fsmonitor ran').toBe(false);
  });

  it('finds a launch by its work directory in the queue, then in accounting, else answers null', async () => {
    const jobDir = join(root, 'find/jobs/dddddddddddd');
    mkdirSync(jobDir, { recursive: true });
    tool('squeue', `echo "70|${root}/find/jobs/other/code"`);
    tool('sacct', `echo "71|${jobDir}/code"; echo "72|${root}/find/jobs/other/code"`);
    expect(await findSubmission(shell, jobDir, `${jobDir}/code`)).toBe('71');
    tool('squeue', `echo "69|${jobDir}/code"; echo "70|${root}/find/jobs/other/code"`);
    expect(await findSubmission(shell, jobDir, `${jobDir}/code`)).toBe('69');
    tool('squeue', 'exit 0');
    tool('sacct', 'exit 0');
    expect(await findSubmission(shell, jobDir, `${jobDir}/code`)).toBeNull();
    // A work directory that merely starts like ours is not ours.
    tool('squeue', `echo "73|${jobDir}/code-old"`);
    expect(await findSubmission(shell, jobDir, `${jobDir}/code`)).toBeNull();
  });

  // Found by test/lab/crash-random.test.ts: a server killed during sbatch leaves its remote command running; the
  // restarted server's lookup answered "not submitted" while that command was still waiting for the repository lock,
  // and the job it then submitted was recorded nowhere.
  describe('a submission whose server is gone', () => {
    const origin = join(root, 'gone-origin');
    let sha = '';
    const launch = (name: string) => {
      const jobDir = join(root, `gone/jobs/${name}`);
      return { ...submission, cloneUrl: origin, repoDir: join(root, 'gone/repos/p-1.git'), commitSha: sha, jobDir, workDir: `${jobDir}/code` };
    };

    it('is waited for by the lookup, which then finds its id', async () => {
      mkdirSync(origin);
      git(origin, 'init', '-q', '-b', 'main');
      writeFileSync(join(origin, 'train.py'), 'print("hi")\n');
      git(origin, 'add', '.');
      git(origin, 'commit', '-qm', 'first');
      sha = git(origin, 'rev-parse', 'HEAD');
      tool('squeue', 'exit 0');
      tool('sacct', 'exit 0');
      tool('sbatch', `touch "${root}/sbatch-started"; sleep 1; echo 81`);
      const target = launch('slowslowslow');
      const submitting = submitBatch(shell, target);
      await expect.poll(() => existsSync(join(root, 'sbatch-started')), { timeout: 10_000 }).toBe(true);
      expect(await findSubmission(shell, target.jobDir, target.workDir)).toBe('81');
      expect(await submitting).toBe('81');
    });

    it('is stopped for good once a lookup found nothing', async () => {
      const target = launch('nevernever12');
      expect(await findSubmission(shell, target.jobDir, target.workDir)).toBeNull();
      tool('sbatch', `touch "${root}/late-sbatch"; echo 82`);
      const late = await submitBatch(shell, target).catch((caught: unknown) => caught);
      expect(late).toMatchObject({ exitCode: 91, stderr: expect.stringContaining('already given up as never submitted') });
      expect(existsSync(join(root, 'late-sbatch'))).toBe(false);
    });

    it('is not submitted when its script arrived incomplete', async () => {
      tool('sbatch', `touch "${root}/cut-sbatch"; echo 83`);
      const cutting: Transport = { exec: (argv, options) => shell.exec(argv, { ...options, stdin: options?.stdin?.slice(0, 12) }), close: async () => {} };
      const cut = await submitBatch(cutting, launch('cutcutcutcut')).catch((caught: unknown) => caught);
      expect(cut).toBeInstanceOf(CheckoutError);
      expect((cut as CheckoutError).stderr).toContain('the job script arrived incomplete');
      expect(existsSync(join(root, 'cut-sbatch'))).toBe(false);
    });

    it('is not declared unsubmitted when SLURM could not be asked', async () => {
      const target = launch('unaskedunask');
      tool('squeue', 'echo "squeue: error: Unable to contact slurm controller (connect failure)" >&2; exit 1');
      await expect(findSubmission(shell, target.jobDir, target.workDir)).rejects.toMatchObject({ name: 'SlurmError', stderr: expect.stringContaining('Unable to contact') });
      tool('squeue', 'exit 0');
      tool('sacct', 'echo "sacct: error: Problem talking to the database: Connection refused" >&2; exit 1');
      await expect(findSubmission(shell, target.jobDir, target.workDir)).rejects.toMatchObject({ name: 'SlurmError', stderr: expect.stringContaining('Connection refused') });
      expect(existsSync(join(target.jobDir, 'abandoned'))).toBe(false);
      // Without accounting the queue alone answers (it keeps ended jobs for MinJobAge).
      tool('sacct', 'echo "sacct: error: Slurm accounting storage is disabled" >&2; exit 1');
      expect(await findSubmission(shell, target.jobDir, target.workDir)).toBeNull();
    });
  });

  it('reads the tail of a real file, and says when there is none', async () => {
    const file = join(root, 'output.log');
    writeFileSync(file, 'line one\nline two\n');
    expect(await readOutputTail(shell, file, 9)).toEqual({ size: 18, text: 'line two\n', startsAtFileStart: false });
    expect(await readOutputTail(shell, file, 1024)).toEqual({ size: 18, text: 'line one\nline two\n', startsAtFileStart: true });
    expect(await readOutputTail(shell, join(root, 'not-yet.log'), 1024)).toEqual({ size: null, text: '', startsAtFileStart: true });
  });
});
