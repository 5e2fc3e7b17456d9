import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isJobTag, isOurWorkDir, jobDirOf, jobPaths, jobPathsInShell, repoDirOf, submissionDirOf, taskDirOf, workspaceOfJobDir } from './layout.js';

describe('job directory layout', () => {
  it('gives every path of a job directory under <workspace>/jobs/<tag>', () => {
    const dir = jobDirOf('/home/me/mission-control', 'abcdefghij12');
    expect(dir).toBe('/home/me/mission-control/jobs/abcdefghij12');
    expect(jobPaths(dir)).toEqual({
      dir,
      code: `${dir}/code`,
      events: `${dir}/events`,
      output: `${dir}/output.log`,
      gpu: `${dir}/gpu`,
      script: `${dir}/job.sh`,
      overrides: `${dir}/overrides`,
      tasks: `${dir}/tasks`,
      submitted: `${dir}/submitted`,
      submitLock: `${dir}/submit.lock`,
      abandoned: `${dir}/abandoned`,
    });
    expect(repoDirOf('/home/me/mission-control', 'resnet-3')).toBe('/home/me/mission-control/repos/resnet-3.git');
  });

  it('gives a remote script the same paths, from the job directory it is handed', () => {
    const dir = "/home/o'neil/mission control/jobs/abcdefghij12";
    const script = `job_dir=$1\n${jobPathsInShell()}\nprintf '%s\\n' "$job_code" "$job_events" "$job_output" "$job_gpu" "$job_script" "$job_overrides" "$job_tasks" "$job_submitted" "$job_submit_lock" "$job_abandoned"`;
    const printed = spawnSync('sh', ['-c', script, 'sh', dir], { encoding: 'utf8' }).stdout.split('\n').slice(0, -1);
    const { dir: _dir, ...paths } = jobPaths(dir);
    expect(printed).toEqual(Object.values(paths));
  });

  it('recognises the checkouts of our launches, and nothing else, as our work directories', () => {
    expect(isOurWorkDir(jobPaths(jobDirOf('/scratch/u/mc', 'abcdefghij12')).code)).toBe(true);
    for (const other of [
      '/scratch/u/mc/jobs/abcdefghij12',
      '/scratch/u/mc/jobs/abcdefghij12/code/sub',
      '/scratch/u/mc/jobs/abcdefghij12/code-old',
      '/scratch/u/mc/jobs/ABCDEFGHIJ12/code',
      '/scratch/u/mc/jobs/abcdefghij1/code',
      '/scratch/u/mc/runs/abcdefghij12/code',
      '/home/u/project',
      '',
      null,
      undefined,
    ]) {
      expect(isOurWorkDir(other), String(other)).toBe(false);
    }
  });

  it("puts a job array's tasks in the submission's directory, and finds the submission from a task", () => {
    const dir = jobDirOf('/scratch/u/mc', 'abcdefghij12');
    const task = taskDirOf(dir, 7);
    expect(task).toBe(`${dir}/tasks/7`);
    expect(jobPaths(task).output).toBe(`${dir}/tasks/7/output.log`);
    expect(jobPaths(task).events).toBe(`${dir}/tasks/7/events`);
    expect(jobPaths(task).gpu).toBe(`${dir}/tasks/7/gpu`);
    expect(submissionDirOf(task)).toBe(dir);
    expect(workspaceOfJobDir(dir)).toBe('/scratch/u/mc');
    for (const other of [dir, `${dir}/tasks`, `${dir}/tasks/x`, `${dir}/tasks/7/events`, '/scratch/u/mc/jobs/short/tasks/1']) expect(submissionDirOf(other), other).toBeNull();
  });

  it('knows a launch tag', () => {
    expect(isJobTag('abcdefghij12')).toBe(true);
    expect(isJobTag('abcdefghij1')).toBe(false);
    expect(isJobTag('../../etc/x1')).toBe(false);
  });
});
