import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLocalTransport } from '../ssh/local-transport.js';
import { jobDirOf, jobPaths } from './layout.js';
import { watchLifecycleEvents, type LifecycleEvent } from './lifecycle-watch.js';

// The watch script run for real (the local transport runs it as an ssh exec would), on event files as the job
// script writes them.
const local = createLocalTransport({ name: 'here', commandTimeoutMs: 5000 });
const workspace = mkdtempSync(join(tmpdir(), 'mc watch '));
afterAll(async () => {
  await local.close();
  rmSync(workspace, { recursive: true, force: true });
});

function newJob(tag: string): string {
  const dir = jobDirOf(workspace, tag);
  mkdirSync(jobPaths(dir).events, { recursive: true });
  return dir;
}

describe('watchLifecycleEvents', () => {
  it('reports the started and finished files of each watched job, with what the job script wrote in them', async () => {
    // A workspace with spaces in its path: each line names its job by position, not by a path read back.
    const [first, second, unwatched] = [newJob('aaaaaaaaaaa1'), newJob('aaaaaaaaaaa2'), newJob('aaaaaaaaaaa3')];
    writeFileSync(join(jobPaths(first).events, 'started'), '1764000000 gpu-a100 4242\n');
    writeFileSync(join(jobPaths(unwatched).events, 'started'), '1764000000 gpu-a100 99\n');
    writeFileSync(join(jobPaths(first).events, 'signalled'), '1764000000 gpu-a100 TERM\n');
    const heard: LifecycleEvent[] = [];
    const handle = await watchLifecycleEvents(local, [first, second], (event) => heard.push(event));
    await expect.poll(() => heard.length, { timeout: 3000 }).toBeGreaterThan(0);
    expect(heard[0]).toEqual({ jobDir: first, event: 'started', fields: ['1764000000', 'gpu-a100', '4242'] });

    writeFileSync(join(jobPaths(second).events, 'finished'), '1764000100 gpu-h100 3\n');
    await expect.poll(() => heard.some((event) => event.jobDir === second), { timeout: 3000 }).toBe(true);
    expect(heard.find((event) => event.jobDir === second)).toEqual({ jobDir: second, event: 'finished', fields: ['1764000100', 'gpu-h100', '3'] });
    // Only watched jobs, only the two events a watch is for, each once (a 1,000-task sweep must not resend its
    // events every second), however many rounds the script made meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 2200));
    expect(heard.map((event) => `${event.jobDir} ${event.event}`).sort()).toEqual([`${first} started`, `${second} finished`]);
    handle.stop();
    expect(await handle.done).toMatchObject({ error: null });
  });
});
