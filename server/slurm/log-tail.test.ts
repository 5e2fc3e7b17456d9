import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLocalTransport } from '../ssh/local-transport.js';
import { jobPaths } from './layout.js';
import { followJobOutput } from './log-tail.js';

// Against a real `tail -F` on this machine (the local transport runs it as an ssh exec would).
const local = createLocalTransport({ name: 'here', commandTimeoutMs: 5000 });
const dirs: string[] = [];
const newJobDir = () => dirs[dirs.push(mkdtempSync(join(tmpdir(), 'mc-tail-'))) - 1]!;
afterAll(async () => {
  await local.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function follow(jobDir: string, fromByte: number | null) {
  let text = '';
  const handle = followJobOutput(local, jobDir, fromByte, (chunk) => (text += chunk));
  return { handle, text: () => text };
}

describe('followJobOutput', () => {
  it("sends the last 64 kB of the job's output.log, then what is written after", async () => {
    const jobDir = newJobDir();
    const early = 'x'.repeat(10_000);
    const recent = `${'y'.repeat(65_535)}\n`;
    writeFileSync(jobPaths(jobDir).output, early + recent);
    const tail = follow(jobDir, null);
    await expect.poll(tail.text, { timeout: 3000 }).toBe(recent);
    appendFileSync(jobPaths(jobDir).output, 'epoch 2\n');
    await expect.poll(tail.text, { timeout: 3000 }).toBe(`${recent}epoch 2\n`);
    (await tail.handle).stop();
  });

  it('from a byte offset sends the rest of the file, and waits for a file not written yet', async () => {
    const jobDir = newJobDir();
    writeFileSync(jobPaths(jobDir).output, 'hello world\n');
    const fromOffset = follow(jobDir, 6);
    await expect.poll(fromOffset.text, { timeout: 3000 }).toBe('world\n');
    (await fromOffset.handle).stop();

    const pendingDir = newJobDir();
    const pending = follow(pendingDir, null);
    const handle = await pending.handle;
    await new Promise((resolve) => setTimeout(resolve, 300));
    writeFileSync(jobPaths(pendingDir).output, 'started\n');
    await expect.poll(pending.text, { timeout: 5000 }).toBe('started\n');
    handle.stop();
    expect(await handle.done).toMatchObject({ error: null });
  });
});
