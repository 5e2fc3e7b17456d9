// The job log's last screen as the cluster cuts it (slurm/jobs.ts readOutputScreen, a real sh + tail + awk on this
// machine, with each awk a login node may have) against the one definition of what a reader sees (log-text.ts):
// whatever bytes the cluster sends, the server must show exactly what it would show had it read the file's end raw.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { createJobRow } from '../../test/factories.js';
import { standInShell } from '../../test/stand-in-shell.js';
import type { ClusterService } from '../clusters/service.js';
import { initOrm } from '../db/orm.js';
import { createEvents } from '../events.js';
import { readOutputScreen, type OutputScreen } from '../slurm/jobs.js';
import { jobPaths } from '../slurm/layout.js';
import type { Transport } from '../ssh/index.js';
import { readJobLog } from './log.js';
import { cleanLog, LOG_SCAN_BYTES, LOG_SCREEN_LINES, trimPartialFirstLine } from './log-text.js';

const AWKS = ['gawk', 'mawk', 'busybox'].filter((awk) => existsSync(`/usr/bin/${awk}`) || existsSync(`/bin/${awk}`));
const shells = AWKS.map((awk) => {
  const shell = standInShell(`mc-screen-${awk}-`);
  const tool = existsSync(`/usr/bin/${awk}`) ? `/usr/bin/${awk}` : `/bin/${awk}`;
  if (awk === 'busybox') writeFileSync(join(shell.bin, 'awk'), `#!/bin/sh\nexec ${tool} awk "$@"\n`, { mode: 0o755 });
  else symlinkSync(tool, join(shell.bin, 'awk'));
  return { awk, ...shell };
});
afterAll(async () => {
  for (const shell of shells) await shell.close();
});

/** What the reader sees: the server's trim and clean, as jobs/log.ts applies them. */
const shown = (bytes: Buffer, startsAtFileStart: boolean) => cleanLog(trimPartialFirstLine(bytes, startsAtFileStart).text, { collapseProgress: true });
const lineCount = (text: string) => text.split('\n').filter(Boolean).length;

/** The screen's text shown, checked to be what the file's raw bytes from its fromByte show. */
function expectFaithful(screen: OutputScreen, file: Buffer, maxBytes: number): string {
  expect(screen.size).toBe(file.length);
  const seen = shown(Buffer.from(screen.text), screen.startsAtFileStart);
  expect(seen).toBe(shown(file.subarray(screen.fromByte), screen.startsAtFileStart));
  if (screen.startsAtFileStart) expect(screen.fromByte).toBe(0);
  expect(Buffer.byteLength(screen.text)).toBeLessThanOrEqual(maxBytes);
  return seen;
}

// A tqdm bar's redraw, as the bench's generator writes it: "\rEpoch 3:  45%|█████████ | 450/1000 [...]".
function bar(epoch: number, step: number, steps: number): string {
  const filled = Math.floor((20 * step) / steps);
  return `\rEpoch ${epoch}: ${String(Math.floor((100 * step) / steps)).padStart(3)}%|${'█'.repeat(filled)}${' '.repeat(20 - filled)}| ${step}/${steps} [00:01<00:02, 41.70it/s, loss=${(2.5 / (1 + step / 100)).toFixed(4)}]`;
}

function progressLog(epochs: number, steps: number, endStep: number): string {
  let text = 'mission-control: job on gpu-a100\nwandb: 🚀 View run at https://wandb.ai/ml-team/resnet/runs/abc123\n';
  for (let epoch = 1; epoch <= epochs; epoch++) {
    for (let step = 1; step <= steps; step++) text += bar(epoch, step, steps);
    text += `\nepoch ${epoch}: train_loss=0.4183 val_loss=0.5121\n`;
  }
  for (let step = 1; step <= endStep; step++) text += bar(epochs + 1, step, steps);
  return text;
}

describe.each(shells)('the last screen of a log, cut on the cluster by $awk', (shell) => {
  let files = 0;
  const write = (content: string | Buffer) => {
    const path = join(shell.root, `output-${files++}.log`);
    writeFileSync(path, content);
    return { path, bytes: readBack(content) };
  };
  const readBack = (content: string | Buffer) => (typeof content === 'string' ? Buffer.from(content) : content);
  const screen = (path: string, maxBytes: number, lines = LOG_SCREEN_LINES, scanBytes = LOG_SCAN_BYTES) => readOutputScreen(shell.shell, path, { maxBytes, lines, scanBytes });

  it('shows a full screen of a progress-bar log for a few kB, ending with the bar mid-epoch', async () => {
    // 60 epochs of 500 redraws: ~48 kB per epoch, so 40 lines lie ~1 MB back; the old 16 kB tail held one line.
    const { path, bytes } = write(progressLog(60, 500, 321));
    const read = await screen(path, 16 * 1024);
    const seen = expectFaithful(read, bytes, 16 * 1024);
    expect(lineCount(seen)).toBeGreaterThanOrEqual(LOG_SCREEN_LINES);
    expect(Buffer.byteLength(read.text)).toBeLessThan(8 * 1024);
    expect(seen.split('\n').at(-1)).toBe(bar(61, 321, 500).slice(1));
    expect(seen).toContain('epoch 60: train_loss=0.4183');
    // The same lines as the server collapsing the whole file.
    expect(shown(bytes, true).endsWith(seen)).toBe(true);
    expect(read.startsAtFileStart).toBe(false);
  });

  it('reads back no further than the scan bound, and sends the whole of a short file', async () => {
    const { path, bytes } = write(progressLog(60, 500, 321));
    const bounded = await screen(path, 16 * 1024, 40, 200 * 1024);
    expect(lineCount(expectFaithful(bounded, bytes, 16 * 1024))).toBeLessThan(12);
    expect(bounded.fromByte).toBeGreaterThanOrEqual(bytes.length - 200 * 1024);

    const short = write('loading\r\x1b[32mok\x1b[0m\nstep 1\r\nstep 2\r\n');
    const whole = await screen(short.path, 1024);
    expect(whole).toMatchObject({ size: short.bytes.length, startsAtFileStart: true, fromByte: 0 });
    expect(expectFaithful(whole, short.bytes, 1024)).toBe('ok\nstep 1\nstep 2\n');
  });

  it('keeps CRLF line ends and a final line without newline', async () => {
    const { path, bytes } = write(`${'line\r\n'.repeat(50)}half a line`);
    const read = await screen(path, 100, 5);
    const seen = expectFaithful(read, bytes, 100);
    expect(seen.endsWith('line\nline\nhalf a line')).toBe(true);
    expect(lineCount(seen)).toBeGreaterThanOrEqual(5);
  });

  it('answers an empty file, a missing one, and a file shorter than the bound', async () => {
    expect(await screen(write('').path, 1024)).toEqual({ size: 0, text: '', startsAtFileStart: true, fromByte: 0 });
    expect(await screen(join(shell.root, 'not-yet.log'), 1024)).toEqual({ size: null, text: '', startsAtFileStart: true, fromByte: 0 });
    const short = write('one\ntwo\n');
    expect(await screen(short.path, 1024)).toEqual({ size: 8, text: 'one\ntwo\n', startsAtFileStart: true, fromByte: 0 });
  });

  it('shows the end of a single 2 MB line without newline, from a whole character', async () => {
    const { path, bytes } = write('█'.repeat(700_000) + 'x');
    const read = await screen(path, 1000);
    const seen = expectFaithful(read, bytes, 1000);
    expect(seen).toBe(`${'█'.repeat(333)}x`);
    // A bar without newline, redrawn: its current state.
    const redrawn = write(Array.from({ length: 20_000 }, (_, step) => bar(1, step, 20_000)).join(''));
    expect(expectFaithful(await screen(redrawn.path, 1000), redrawn.bytes, 1000)).toBe(bar(1, 19_999, 20_000).slice(1));
  });

  it('cuts the window inside a multi-byte character without showing half of it', async () => {
    // The window's first byte falls on each of a █'s three bytes in turn.
    const { path, bytes } = write(`head\n${'█'.repeat(40)}`);
    for (const maxBytes of [19, 20, 21]) {
      const read = await screen(path, maxBytes, 1, 1024);
      expect(expectFaithful(read, bytes, maxBytes)).toBe('█'.repeat(Math.floor(maxBytes / 3)));
    }
  });

  it('agrees with the server collapsing the raw end, on generated logs', async () => {
    const piece = fc.constantFrom(
      'loss=0.5', 'x', ' ', '█', '▏', '🚀', '\r', '\r', '\n', '\n', '\r\n', '\r\r', '\x07', '\x1b', '\x1b[32m', '\x1b[0m', '\x1b[K',
      '\x1b[2K\r', '\x1b[A', '\x1b(B', '\x1b[', '\x1b]0;title\x07', '\x1b]0;open', '\x1b]8;;https://x.y/\x1b\\', '\x1bP', '\x1b_', '\x1b\\', ']', '[',
      ' 50%|█████     | 5/10', 'Epoch 1:   0%|          | 0/10',
    );
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 120 }), fc.integer({ min: 4, max: 400 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 2000 }), async (pieces, maxBytes, lines, scanBytes) => {
        const { path, bytes } = write(pieces.join(''));
        expectFaithful(await screen(path, maxBytes, lines, scanBytes), bytes, maxBytes);
      }),
      { numRuns: 150 },
    );
  }, 60_000);

  it('reads a file that grows meanwhile as it was when measured', async () => {
    const { path } = write(progressLog(5, 300, 10));
    // A running job: bar redraws and lines appended as fast as a shell can, during the reads.
    const writer = spawn('sh', ['-c', `i=0; while :; do i=$((i+1)); printf '\\rEpoch 6: %d/99 █▌' "$i" >> "$1"; [ $((i % 50)) -eq 0 ] && echo " done" >> "$1"; done`, 'sh', path], { stdio: 'ignore' });
    try {
      const reads: OutputScreen[] = [];
      for (let round = 0; round < 15; round++) reads.push(await screen(path, 2048, 40, 64 * 1024));
      writer.kill();
      const final = readFileSync(path);
      // The file only grew: its first `size` bytes are what there was when each read measured it.
      for (const read of reads) expectFaithful(read, final.subarray(0, read.size!), 2048);
      expect(new Set(reads.map((read) => read.size)).size).toBeGreaterThan(1);
    } finally {
      writer.kill();
    }
  });

  it('reads a file again when it was replaced by a shorter one while read', async () => {
    const long = write(progressLog(20, 300, 10));
    const replacement = 'requeued\nepoch 1 again\n';
    writeFileSync(`${long.path}.new`, replacement);
    // A tail that finds the job's output replaced (SLURM requeued the job) the first time it opens it.
    writeFileSync(join(shell.bin, 'tail'), `#!/bin/sh\n[ -e "${long.path}.new" ] && mv "${long.path}.new" "${long.path}"\nexec /usr/bin/tail "$@"\n`, { mode: 0o755 });
    try {
      const read = await screen(long.path, 4096);
      expect(read).toEqual({ size: replacement.length, text: replacement, startsAtFileStart: true, fromByte: 0 });
    } finally {
      renameSync(join(shell.bin, 'tail'), join(shell.root, 'tail-stand-in'));
    }
    appendFileSync(long.path, 'epoch 2\n');
    expect((await screen(long.path, 4096)).text).toBe(`${replacement}epoch 2\n`);
  });
});

describe('a job log read (the job-log query)', () => {
  it('shows a full screen, finds the W&B link in the head once and keeps it, and sends every redraw when asked', async () => {
    const shell = shells[0]!;
    const commands: string[][] = [];
    const counting: Transport = { exec: (argv, options) => (commands.push([...argv]), shell.shell.exec(argv, options)), close: async () => undefined };
    const orm = await initOrm(':memory:');
    try {
      const em = orm.em.fork();
      const job = createJobRow(em, { cluster: 'lab', state: 'RUNNING', slurmJobId: '7', jobDir: join(shell.root, 'job-with-bars') });
      await em.flush();
      await shell.shell.exec(['mkdir', '-p', job.jobDir]);
      writeFileSync(jobPaths(job.jobDir).output, progressLog(60, 500, 321));
      const deps = { clusters: { transport: () => counting } as unknown as ClusterService, events: createEvents() };

      const first = await readJobLog(deps, orm.em.fork(), job.id, 256 * 1024, true);
      expect(first).toMatchObject({ truncated: true, wandbUrl: 'https://wandb.ai/ml-team/resnet/runs/abc123' });
      expect(lineCount(first.text)).toBeGreaterThanOrEqual(LOG_SCREEN_LINES);
      expect(first.text.split('\n').at(-1)).toBe(bar(61, 321, 500).slice(1));
      // The screen, then the head for the link; the link is stored and not looked for again.
      expect(commands.map((argv) => argv[0])).toEqual(['sh', 'head']);
      commands.length = 0;
      expect(await readJobLog(deps, orm.em.fork(), job.id, 256 * 1024, true)).toEqual(first);
      expect(commands).toHaveLength(1);

      const raw = await readJobLog(deps, orm.em.fork(), job.id, 4096, false);
      expect(raw.text).toContain(`${bar(61, 320, 500)}${bar(61, 321, 500)}`);
    } finally {
      await orm.close();
    }
  });
});
