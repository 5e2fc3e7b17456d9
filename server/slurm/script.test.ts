import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
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
    for (const spelled of ['/events', 'events/', 'output.log', '/code', 'job.sh', '/jobs/']) expect(template, spelled).not.toContain(spelled);
    const paths = jobPaths(input.jobDir);
    const script = renderScript(template, input);
    expect(script).toContain(`\nMC_EVENTS_DIR=${paths.events}\n`);
    expect(script).toContain(`\ncd ${paths.code}\n`);
    expect(script).toContain(`#SBATCH --output=${paths.output}\n#SBATCH --chdir=${paths.code}\n`);
  });

  it('runs training under srun for several GPUs or nodes', () => {
    expect(renderScript(template, { ...input, gpusPerNode: 2 })).toContain('\nsrun python train.py');
    expect(renderScript(template, { ...input, nodes: 2 })).toContain('\nsrun python train.py');
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
