import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { ValidationError } from '../errors.js';
import { runListText } from './jobs.js';
import { jobPaths, taskDirOf } from './layout.js';
import { renderScript, sbatchDirectives, type ScriptInput } from './script.js';

const template = readFileSync(new URL('../../config/sbatch.template.sh', import.meta.url), 'utf8');

const input: ScriptInput = {
  tag: 'abcdefghij12',
  jobName: 'resnet',
  partition: 'gpu',
  account: null,
  qos: null,
  nodes: 1,
  gpusPerNode: 1,
  gpuType: 'a100',
  cpusPerTask: 4,
  memory: '16G',
  timeLimit: '4:00:00',
  gpuRequestStyle: 'gres',
  jobDir: '/home/me/mission-control/jobs/abcdefghij12',
  modules: ['cuda/12.1'],
  env: { WANDB_PROJECT: 'resnet', NOTE: "it's $(not) `run`" },
  condaEnv: 'torch',
  venv: null,
  setup: ['nvidia-smi'],
  installEditable: true,
  command: ['python', 'train.py', '--config-name', 'train', 'model=vit', 'note=$(touch /tmp/x)'],
};

describe('renderScript', () => {
  it('requests GPUs the way each cluster wants', () => {
    const gpus = (style: ScriptInput['gpuRequestStyle'], gpuType: string | null = 'a100') =>
      sbatchDirectives({ ...input, gpuRequestStyle: style, gpuType, gpusPerNode: 2 }).filter((line) => /gres|constraint|gpus/.test(line));
    expect(gpus('gres')).toEqual(['--gres=gpu:a100:2']);
    expect(gpus('constraint')).toEqual(['--constraint=a100', '--gres=gpu:2']);
    expect(gpus('gpus')).toEqual(['--gpus-per-node=a100:2']);
    expect(gpus('gres', null)).toEqual(['--gres=gpu:2']);
    expect(sbatchDirectives({ ...input, gpusPerNode: 0 }).some((line) => line.includes('gpu:'))).toBe(false);
  });

  it('writes directives, environment and a quoted command into the template', () => {
    const script = renderScript(template, input);
    expect(script).toContain(
      [
        '#SBATCH --job-name=resnet',
        '#SBATCH --partition=gpu',
        '#SBATCH --nodes=1',
        '#SBATCH --gres=gpu:a100:1',
        '#SBATCH --cpus-per-task=4',
        '#SBATCH --mem=16G',
        '#SBATCH --time=4:00:00',
        '#SBATCH --output=/home/me/mission-control/jobs/abcdefghij12/output.log',
        '#SBATCH --chdir=/home/me/mission-control/jobs/abcdefghij12/code',
      ].join('\n'),
    );
    expect(script).toContain("module load cuda/12.1\nsource \"$(conda info --base)/etc/profile.d/conda.sh\"\nconda activate torch\nexport WANDB_PROJECT=resnet\nexport NOTE='it'\\''s $(not) `run`'");
    expect(script).toContain("\npython train.py --config-name train model=vit 'note=$(touch /tmp/x)' &\n");
    expect(script).toContain('pip install --quiet -e .');
    expect(script).not.toMatch(/\{\{\w+\}\}/);
    expect(script.startsWith('#!/bin/bash\n')).toBe(true);
  });

  it("takes every path of the job's directory from its layout: the template spells none", () => {
    for (const spelled of ['/events', 'events/', 'output.log', '/code', 'job.sh', '/jobs/', '/gpu', 'gpu/']) expect(template, spelled).not.toContain(spelled);
    const paths = jobPaths(input.jobDir);
    const script = renderScript(template, input);
    expect(script).toContain(`\nMC_EVENTS_DIR=${paths.events}\nMC_GPU_DIR=${paths.gpu}\n`);
    expect(script).toContain(`\ncd ${paths.code}\n`);
    expect(script).toContain(`#SBATCH --output=${paths.output}\n#SBATCH --chdir=${paths.code}\n`);
  });

  it('runs training under srun for several GPUs or nodes, each node of several through mc_node_task', () => {
    expect(renderScript(template, { ...input, gpusPerNode: 2 })).toContain('\nsrun python train.py');
    expect(renderScript(template, { ...input, nodes: 2 })).toContain(`\nsrun bash -c 'if declare -F mc_node_task >/dev/null; then mc_node_task "$@"; else "$@"; fi' mc-node-task python train.py`);
    expect(renderScript(template, input)).not.toContain('\nsrun ');
  });

  it('records start and end in one file per event, and a TERM from SLURM as signalled', async () => {
    const newJobDir = () => {
      const dir = mkdtempSync(join(tmpdir(), 'mc-script-'));
      mkdirSync(jobPaths(dir).events);
      mkdirSync(jobPaths(dir).code);
      return dir;
    };
    let jobDir = newJobDir();
    const plain = { ...input, modules: [], condaEnv: null, installEditable: false, setup: [] };

    const finished = spawnSync('bash', ['-c', renderScript(template, { ...plain, jobDir, command: ['sh', '-c', 'echo training; exit 3'] })], { encoding: 'utf8', env: { ...process.env, SLURM_JOB_ID: '42' } });
    expect(finished.status).toBe(3);
    expect(finished.stdout).toContain('training');
    expect(readFileSync(join(jobDir, 'events/started'), 'utf8')).toMatch(/^\d+ \S+ 42\n$/);
    expect(readFileSync(join(jobDir, 'events/finished'), 'utf8')).toMatch(/^\d+ \S+ 3\n$/);

    jobDir = newJobDir();
    const running = spawn('bash', ['-c', renderScript(template, { ...plain, jobDir, command: ['sleep', '30'] })]);
    await vi.waitFor(() => expect(readdirSync(join(jobDir, 'events'))).toContain('started'), { timeout: 5000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    running.kill('SIGTERM');
    const code = await new Promise((resolve) => running.on('exit', (exitCode) => resolve(exitCode)));
    expect(code).toBe(143);
    expect(readFileSync(join(jobDir, 'events/signalled'), 'utf8')).toMatch(/ TERM\n$/);
    expect(readFileSync(join(jobDir, 'events/finished'), 'utf8')).toMatch(/ 143\n$/);
  });

  it("runs a job array's task with its own overrides from the run list, its own output and events, never through a shell's parsing", () => {
    const jobDir = mkdtempSync(join(tmpdir(), 'mc script array '));
    mkdirSync(jobPaths(jobDir).code);
    const hostile = ['note=$(touch /tmp/mc-pwned)', "quote='a b'", 'glob=*', 'multi word', 'semi=;exit 9', 'dollar=$HOME', 'back=`id`'];
    const runs = new Map([0, 1, 2].map((index) => [index, index === 1 ? [...hostile, 'hydra.job.num=1'] : [`seed=${index}`, `hydra.job.num=${index}`]]));
    writeFileSync(jobPaths(jobDir).overrides, runListText(runs));
    for (const index of [0, 1, 2]) mkdirSync(jobPaths(taskDirOf(jobDir, index)).events, { recursive: true });
    const script = renderScript(template, { ...input, modules: [], condaEnv: null, installEditable: false, setup: [], jobDir, arrayTasks: true, command: ['printf', '<%s>\\n', 'base'] });
    expect(script).toContain(`#SBATCH --output=${jobDir}/tasks/%a/output.log`);

    const task = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, SLURM_JOB_ID: '43', SLURM_ARRAY_JOB_ID: '42', SLURM_ARRAY_TASK_ID: '1' } });
    expect(task.status).toBe(0);
    // printf prints each argv word it got between <>: exactly the words of task 1, in order, untouched.
    expect(task.stdout.split('\n').filter((line) => line.startsWith('<'))).toEqual(['<base>', ...hostile.map((word) => `<${word}>`), '<hydra.job.num=1>']);
    expect(task.stdout).toContain('mission-control: task 1 of array 42 runs with');
    expect(readFileSync(join(taskDirOf(jobDir, 1), 'events/started'), 'utf8')).toMatch(/^\d+ \S+ 43\n$/);
    expect(readFileSync(join(taskDirOf(jobDir, 1), 'events/finished'), 'utf8')).toMatch(/ 0\n$/);
    expect(readdirSync(jobPaths(taskDirOf(jobDir, 0)).events)).toEqual([]);

    const last = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, SLURM_ARRAY_TASK_ID: '2' } });
    expect(last.stdout.split('\n').filter((line) => line.startsWith('<'))).toEqual(['<base>', '<seed=2>', '<hydra.job.num=2>']);
  });

  it('refuses a run list word that would shift the tasks after it', () => {
    expect(() => runListText(new Map([[0, ['a=1', '']]]))).toThrow(/empty or NUL/);
    expect(() => runListText(new Map([[0, ['a=1\u0000b']]]))).toThrow(/empty or NUL/);
    // A missing index still ends its (empty) list, so the tasks after it keep their place.
    expect(runListText(new Map([[0, ['a=1']], [2, ['c=3']]]))).toBe('a=1\0\0\0c=3\0\0');
  });
});

describe('the job script with resume', () => {
  const plain = { ...input, modules: [], condaEnv: null, installEditable: false, setup: [], timeLimit: '2:00' };
  const resume = { maxRestarts: 2, signalSeconds: 60, override: "+note='a b; $(touch /tmp/mc-pwned)'" };
  const newJobDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-resume-'));
    mkdirSync(jobPaths(dir).events);
    mkdirSync(jobPaths(dir).code);
    return dir;
  };
  /** A stand-in scontrol on PATH that writes down its arguments: the lab suite (test/lab/resume.test.ts) runs the real one. */
  const fakeScontrol = () => {
    const bin = mkdtempSync(join(tmpdir(), 'mc-scontrol-'));
    writeFileSync(join(bin, 'scontrol'), `#!/bin/sh\necho "$*" >> ${bin}/calls\n`);
    chmodSync(join(bin, 'scontrol'), 0o755);
    return { path: `${bin}:${process.env.PATH}`, calls: () => (existsSync(join(bin, 'calls')) ? readFileSync(join(bin, 'calls'), 'utf8') : '') };
  };
  /** Runs the script, sends it USR2 as SLURM would once the training runs, and resolves with its exit code. */
  async function signalled(script: string, jobDir: string, env: Record<string, string>, eventsDir = jobPaths(jobDir).events) {
    const running = spawn('bash', ['-c', script], { env: { ...process.env, ...env } });
    let stdout = '';
    running.stdout.on('data', (chunk) => (stdout += chunk));
    const exited = new Promise<number | null>((resolve) => running.on('exit', (exitCode) => resolve(exitCode)));
    await vi.waitFor(() => expect(stdout).toContain('training'), { timeout: 5000 });
    expect(readdirSync(eventsDir)).toContain('started');
    running.kill('SIGUSR2');
    return { code: await exited, stdout: () => stdout };
  }
  // The training checkpoints on USR2 (writes a file) and exits, as the fixture project does.
  const training = (mark: string) => ['sh', '-c', `trap 'echo checkpoint > ${mark}; exit 0' USR2; echo training; while :; do sleep 0.1; done`];

  it('asks SLURM for USR2 before the limit, a requeueable job and a log each run appends to, only with resume', () => {
    expect(sbatchDirectives({ ...plain, resume })).toEqual(expect.arrayContaining(['--signal=B:USR2@60', '--requeue', '--open-mode=append']));
    expect(sbatchDirectives(plain).filter((line) => /signal|requeue|open-mode/.test(line))).toEqual([]);
    expect(renderScript(template, plain)).not.toMatch(/--signal|--requeue|mc_resume|scontrol/);
  });

  it('passes USR2 to the training, requeues its own job id and ends with `requeued 1`, not `finished`', async () => {
    const jobDir = newJobDir();
    const mark = join(jobDir, 'checkpointed');
    const scontrol = fakeScontrol();
    const run = await signalled(renderScript(template, { ...plain, jobDir, resume, command: training(mark) }), jobDir, { SLURM_JOB_ID: '42', PATH: scontrol.path });
    expect(run.code).toBe(0);
    expect(readFileSync(mark, 'utf8')).toBe('checkpoint\n');
    expect(scontrol.calls()).toBe('requeue 42\n');
    expect(readFileSync(join(jobDir, 'events/requeued'), 'utf8')).toMatch(/^\d+ \S+ 1\n$/);
    expect(readdirSync(jobPaths(jobDir).events).sort()).toEqual(['requeued', 'started']);
    expect(run.stdout()).toContain('USR2 to the training, then requeue (1 of 2)');
  });

  it("requeues an array task by its own id (<array>_<index>) and counts from SLURM's restart count", async () => {
    const jobDir = newJobDir();
    writeFileSync(jobPaths(jobDir).overrides, runListText(new Map([[0, ['seed=0']], [1, ['seed=1']]])));
    const eventsDir = jobPaths(taskDirOf(jobDir, 1)).events;
    mkdirSync(eventsDir, { recursive: true });
    const scontrol = fakeScontrol();
    const script = renderScript(template, { ...plain, jobDir, arrayTasks: true, resume, command: training(join(jobDir, 'checkpointed')) });
    const run = await signalled(script, jobDir, { SLURM_JOB_ID: '43', SLURM_ARRAY_JOB_ID: '42', SLURM_ARRAY_TASK_ID: '1', SLURM_RESTART_COUNT: '1', PATH: scontrol.path }, eventsDir);
    expect(run.code).toBe(0);
    expect(scontrol.calls()).toBe('requeue 42_1\n');
    expect(readFileSync(join(eventsDir, 'requeued'), 'utf8')).toMatch(/ 2\n$/);
    expect(existsSync(join(eventsDir, 'finished'))).toBe(false);
  });

  it('adds the override, as one word, on a restart only (after a task\'s own overrides)', () => {
    const jobDir = newJobDir();
    const script = renderScript(template, { ...plain, jobDir, resume, command: ['printf', '<%s>\\n', 'base'] });
    const words = (env: Record<string, string>) => spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, ...env } }).stdout.split('\n').filter((line) => line.startsWith('<'));
    expect(words({})).toEqual(['<base>']);
    expect(words({ SLURM_RESTART_COUNT: '1' })).toEqual(['<base>', `<${resume.override}>`]);
    expect(existsSync('/tmp/mc-pwned')).toBe(false);

    writeFileSync(jobPaths(jobDir).overrides, runListText(new Map([[0, ['seed=0']]])));
    mkdirSync(jobPaths(taskDirOf(jobDir, 0)).events, { recursive: true });
    const task = renderScript(template, { ...plain, jobDir, arrayTasks: true, resume, command: ['printf', '<%s>\\n', 'base'] });
    const taskRun = spawnSync('bash', ['-c', task], { encoding: 'utf8', env: { ...process.env, SLURM_ARRAY_TASK_ID: '0', SLURM_RESTART_COUNT: '2' } });
    expect(taskRun.stdout.split('\n').filter((line) => line.startsWith('<'))).toEqual(['<base>', '<seed=0>', `<${resume.override}>`]);
  });

  it('with every restart used, leaves the training alone to run into the limit, and reports its end', async () => {
    const jobDir = newJobDir();
    const scontrol = fakeScontrol();
    // Not told: USR2 would kill this sh (no trap), which would end with 140.
    const command = ['sh', '-c', 'echo training; sleep 1; echo trained; exit 5'];
    const run = await signalled(renderScript(template, { ...plain, jobDir, resume, command }), jobDir, { SLURM_JOB_ID: '42', SLURM_RESTART_COUNT: '2', PATH: scontrol.path });
    expect(run.code).toBe(5);
    expect(run.stdout()).toContain('trained');
    expect(run.stdout()).toContain('all 2 restarts used');
    expect(scontrol.calls()).toBe('');
    expect(readFileSync(join(jobDir, 'events/finished'), 'utf8')).toMatch(/ 5\n$/);
    expect(existsSync(join(jobDir, 'events/requeued'))).toBe(false);
  });

  it("refuses resume under a cluster template without the resume block, which USR2 would kill", () => {
    const error = (() => {
      try {
        renderScript(template.replace('{{resume}}', ''), { ...plain, resume });
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe('resume');
    expect(renderScript(template.replace('{{resume}}', ''), plain)).toContain('#SBATCH');
  });
});

describe('the GPU sampler of the job script', () => {
  // The lab's stand-in nvidia-smi (test/lab/nvidia-smi), behind a wrapper that notes the pid and node of each sampler
  // it becomes (exec keeps the pid), so a test can tell each one is gone when the job is.
  const standIn = fileURLToPath(new URL('../../test/lab/nvidia-smi', import.meta.url));
  const plain = { ...input, modules: [], condaEnv: null, installEditable: false, setup: [], env: {} };

  function newJob(options: { srunNodes?: string[] } = {}) {
    const jobDir = mkdtempSync(join(tmpdir(), 'mc-gpu-'));
    mkdirSync(jobPaths(jobDir).events);
    mkdirSync(jobPaths(jobDir).code);
    const bin = join(jobDir, 'bin');
    mkdirSync(bin);
    const samplers = join(jobDir, 'samplers');
    writeFileSync(join(bin, 'nvidia-smi'), `#!/bin/sh\necho "$$ \${SLURMD_NODENAME:-?}" >> '${samplers}'\nexec '${standIn}' "$@"\n`);
    chmodSync(join(bin, 'nvidia-smi'), 0o755);
    if (options.srunNodes) {
      // srun on a job of several nodes: the task once per node, with the environment SLURM gives each.
      const tasks = options.srunNodes.map((node, index) => `SLURM_NODEID=${index} SLURM_LOCALID=0 SLURMD_NODENAME=${node} "$@" &`).join('\n');
      writeFileSync(join(bin, 'srun'), `#!/bin/bash\n${tasks}\nstatus=0\nfor pid in $(jobs -p); do wait "$pid" || status=$?; done\nexit "$status"\n`);
      chmodSync(join(bin, 'srun'), 0o755);
    }
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, MC_GPU_SAMPLE_SECONDS: '0.2', SLURMD_NODENAME: options.srunNodes?.[0] ?? 'gpu-a100' };
    const samplerPids = () => (existsSync(samplers) ? readFileSync(samplers, 'utf8').trim().split('\n').map((line) => ({ pid: Number(line.split(' ')[0]), node: line.split(' ')[1] })) : []);
    return { jobDir, env, samplerPids };
  }

  /** A process that still runs: /proc has it and it is no zombie waiting for a parent that will not reap it. */
  function running(pid: number): boolean {
    try {
      return !/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  }

  const sampleLines = (file: string) => readFileSync(file, 'utf8').split('\n').filter((line) => line !== '');
  const SAMPLE = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d\.\d{3}, \d+, \d+, \d+, \d+$/;

  it("samples each GPU into gpu/<node>.csv while the training runs, in UTC, and stops with the job", async () => {
    const { jobDir, env, samplerPids } = newJob();
    const script = renderScript(template, { ...plain, jobDir, command: ['sleep', '1.5'] });
    const job = spawn('bash', ['-c', script], { env: { ...env, TZ: 'America/New_York' } });
    const file = join(jobPaths(jobDir).gpu, 'gpu-a100.csv');
    // Growing while the job runs: samples of both GPUs every 0.2 s.
    await vi.waitFor(() => expect(existsSync(file) && sampleLines(file).length >= 4).toBe(true), { timeout: 5000 });
    expect(samplerPids().every(({ pid }) => running(pid))).toBe(true);
    const code = await new Promise((resolve) => job.on('exit', (exitCode) => resolve(exitCode)));
    expect(code).toBe(0);
    const lines = sampleLines(file);
    for (const line of lines) expect(line).toMatch(SAMPLE);
    expect(lines.slice(0, 2).map((line) => line.split(', ')[1])).toEqual(['0', '1']);
    // nvidia-smi prints local time: the sampler asks for UTC, whatever the node's zone.
    const stamp = Date.parse(`${lines[0]!.split(', ')[0]!.replace(/\//g, '-').replace(' ', 'T')}Z`);
    expect(Math.abs(stamp - Date.now())).toBeLessThan(60_000);
    expect(samplerPids()).toHaveLength(1);
    await vi.waitFor(() => expect(samplerPids().filter(({ pid }) => running(pid))).toEqual([]), { timeout: 2000 });
    expect(readFileSync(join(jobDir, 'events/finished'), 'utf8')).toMatch(/ 0\n$/);
  });

  it('stops the sampler when SLURM sends TERM, and keeps the lifecycle events', async () => {
    const { jobDir, env, samplerPids } = newJob();
    const job = spawn('bash', ['-c', renderScript(template, { ...plain, jobDir, command: ['sleep', '30'] })], { env });
    await vi.waitFor(() => expect(samplerPids()).toHaveLength(1), { timeout: 5000 });
    job.kill('SIGTERM');
    const code = await new Promise((resolve) => job.on('exit', (exitCode) => resolve(exitCode)));
    expect(code).toBe(143);
    await vi.waitFor(() => expect(running(samplerPids()[0]!.pid)).toBe(false), { timeout: 2000 });
    expect(readFileSync(join(jobDir, 'events/signalled'), 'utf8')).toMatch(/ TERM\n$/);
    expect(readFileSync(join(jobDir, 'events/finished'), 'utf8')).toMatch(/ 143\n$/);
  });

  it('starts one sampler per node on a job of several nodes: the batch script on the first, each task on the others', async () => {
    const { jobDir, env, samplerPids } = newJob({ srunNodes: ['node-a', 'node-b', 'node-c'] });
    const script = renderScript(template, { ...plain, jobDir, nodes: 3, command: ['sleep', '1'] });
    const job = spawn('bash', ['-c', script], { env });
    await vi.waitFor(() => expect(samplerPids()).toHaveLength(3), { timeout: 5000 });
    const code = await new Promise((resolve) => job.on('exit', (exitCode) => resolve(exitCode)));
    expect(code).toBe(0);
    expect(samplerPids().map(({ node }) => node).sort()).toEqual(['node-a', 'node-b', 'node-c']);
    expect(readdirSync(jobPaths(jobDir).gpu).sort()).toEqual(['node-a.csv', 'node-b.csv', 'node-c.csv']);
    for (const node of ['node-a', 'node-b', 'node-c']) expect(sampleLines(join(jobPaths(jobDir).gpu, `${node}.csv`))[0]).toMatch(SAMPLE);
    await vi.waitFor(() => expect(samplerPids().filter(({ pid }) => running(pid))).toEqual([]), { timeout: 2000 });
  });

  it('runs the job as before where nvidia-smi does not exist, with no GPU directory', () => {
    const { jobDir } = newJob();
    const finished = spawnSync('bash', ['-c', renderScript(template, { ...plain, jobDir, command: ['sh', '-c', 'echo training'] })], { encoding: 'utf8', env: { ...process.env, PATH: '/usr/bin:/bin' } });
    expect(finished.status).toBe(0);
    expect(finished.stdout).toContain('training');
    expect(existsSync(jobPaths(jobDir).gpu)).toBe(false);
  });

  it("samples a job array's task into its own task directory", () => {
    const script = renderScript(template, { ...plain, arrayTasks: true });
    expect(script).toContain(`\nMC_GPU_DIR=${input.jobDir}/tasks/"$SLURM_ARRAY_TASK_ID"/gpu\n`);
  });
});
