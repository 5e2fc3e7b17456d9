import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLocalTransport } from '../ssh/local-transport.js';
import { jobDirOf, jobPaths } from './layout.js';
import { readJobFilesOnce, watchJobFiles, type WatchSource } from './lifecycle-watch.js';

// The watch script run for real (the local transport runs it as an ssh exec would), on event files as the job
// script writes them and on files that grow.
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

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('watchJobFiles', () => {
  it('reports the started and finished files of each watched job once, with what the job script wrote in them', async () => {
    // A workspace with spaces in its path: each line names its source by position, not by a path read back.
    const [first, second, unwatched] = [newJob('aaaaaaaaaaa1'), newJob('aaaaaaaaaaa2'), newJob('aaaaaaaaaaa3')];
    writeFileSync(join(jobPaths(first).events, 'started'), '1764000000 gpu-a100 4242\n');
    writeFileSync(join(jobPaths(unwatched).events, 'started'), '1764000000 gpu-a100 99\n');
    writeFileSync(join(jobPaths(first).events, 'signalled'), '1764000000 gpu-a100 TERM\n');
    const sources: WatchSource[] = [{ kind: 'events', jobDir: first }, { kind: 'events', jobDir: second }];
    const heard: Array<{ jobDir: string; event: string; fields: string[] }> = [];
    const handle = await watchJobFiles(local, sources, { onEvent: (source, event, fields) => heard.push({ jobDir: (sources[source] as { jobDir: string }).jobDir, event, fields }) });
    await expect.poll(() => heard.length, { timeout: 3000 }).toBeGreaterThan(0);
    expect(heard[0]).toEqual({ jobDir: first, event: 'started', fields: ['1764000000', 'gpu-a100', '4242'] });

    writeFileSync(join(jobPaths(second).events, 'finished'), '1764000100 gpu-h100 3\n');
    await expect.poll(() => heard.some((event) => event.jobDir === second), { timeout: 3000 }).toBe(true);
    expect(heard.find((event) => event.jobDir === second)).toEqual({ jobDir: second, event: 'finished', fields: ['1764000100', 'gpu-h100', '3'] });
    // Only watched jobs, only the two events a watch is for, each once (a 1,000-task sweep must not resend its
    // events every second), however many rounds the script made meanwhile.
    await pause(2200);
    expect(heard.map((event) => `${event.jobDir} ${event.event}`).sort()).toEqual([`${first} started`, `${second} finished`]);
    handle.stop();
    expect(await handle.done).toMatchObject({ error: null });
  });

  it('sends each file\'s new bytes from its offset, bounded per round, binary intact, and reports matching files and rewrites', { timeout: 30_000 }, async () => {
    const dir = newJob('bbbbbbbbbbb1');
    const log = join(dir, 'output.log');
    const binary = join(dir, 'out dir', 'events.out.tfevents.1');
    mkdirSync(join(dir, 'out dir'));
    writeFileSync(log, 'skipped\nloss=1\n');
    const sources: WatchSource[] = [
      { kind: 'file', path: log, offset: 'skipped\n'.length },
      { kind: 'glob', pattern: join(dir, 'out dir', 'events.out.tfevents.*') },
    ];
    const bytes = new Map<number, Buffer[]>();
    const matches: string[] = [];
    let rewound = 0;
    const handle = await watchJobFiles(
      local,
      sources,
      {
        onBytes: (source, from, chunk) => bytes.set(source, [...(bytes.get(source) ?? []), Buffer.concat([Buffer.from(`@${from}:`), chunk])]),
        onMatch: (_source, path) => matches.push(path),
        onRewound: () => rewound++,
      },
      { roundBytes: 8, fileEvery: 1 },
    );
    await expect.poll(() => Buffer.concat(bytes.get(0) ?? []).toString(), { timeout: 4000 }).toBe('@8:loss=1\n');
    appendFileSync(log, 'loss=0.5\nloss=0.25\n');
    // 19 new bytes, at most 8 a round: three rounds, each from where the last ended.
    await expect.poll(() => Buffer.concat(bytes.get(0) ?? []).toString(), { timeout: 6000 }).toBe('@8:loss=1\n@15:loss=0.5@23:\nloss=0.@31:25\n');
    const binaryBytes = Buffer.from([0, 255, 10, 13, 0x80, 0x7f, 32]);
    writeFileSync(binary, binaryBytes);
    await expect.poll(() => matches, { timeout: 4000 }).toEqual([binary]);
    writeFileSync(log, 'new\n');
    await expect.poll(() => rewound, { timeout: 4000 }).toBe(1);
    await expect.poll(() => Buffer.concat(bytes.get(0) ?? []).toString().endsWith('@0:new\n'), { timeout: 4000 }).toBe(true);
    handle.stop();

    const once: Buffer[] = [];
    await readJobFilesOnce(local, [{ kind: 'file', path: binary, offset: 0 }], { onBytes: (_source, _from, chunk) => once.push(chunk) });
    expect(Buffer.concat(once)).toEqual(binaryBytes);
    // Only once: the one round's report arrived before readJobFilesOnce resolved, and matches are listed again once
    // their number changes, not every round.
    await pause(1500);
    expect(matches).toEqual([binary]);
  });
});
