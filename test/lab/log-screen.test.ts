// The last screen of a progress-bar log on a real cluster: a 1.5 MB tqdm-style output file written on the lab through
// its sshd, read back by the server's own log read over each real transport. The bars are cut on the cluster (its
// own sh, tail and awk), so a full screen crosses the wire for a few kB, and it shows exactly what the server would
// have shown from the raw bytes.
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanLog, LOG_SCAN_BYTES, LOG_SCREEN_LINES, LOG_TAIL_BYTES, trimPartialFirstLine } from '../../server/jobs/log-text.js';
import { homeDirectory, readOutputScreen } from '../../server/slurm/jobs.js';
import { createTransport, type StreamingTransport } from '../../server/ssh/index.js';
import { labClusterConfig, labForSuite } from './lab-env.js';

const lab = labForSuite('lab log screen suite');

const shown = (bytes: Buffer, startsAtFileStart: boolean) => cleanLog(trimPartialFirstLine(bytes, startsAtFileStart).text, { collapseProgress: true });

// tqdm's bar, coloured as some trainers print it on odd epochs (the cut must then reason about escapes).
function bar(epoch: number, step: number, steps: number): string {
  const filled = Math.floor((20 * step) / steps);
  const body = `Epoch ${epoch}: ${String(Math.floor((100 * step) / steps)).padStart(3)}%|${'█'.repeat(filled)}${' '.repeat(20 - filled)}| ${step}/${steps} [00:12<00:09, 41.70it/s, loss=${(2.5 / (1 + step / 100)).toFixed(4)}]`;
  return epoch % 2 ? `\r\x1b[32m${body}\x1b[0m\x1b[K` : `\r${body}`;
}

function progressLog(epochs: number, steps: number, endStep: number): string {
  const parts = ['mission-control: job on gpu-a100\nwandb: 🚀 View run at https://wandb.ai/ml-team/resnet/runs/labscreen\n'];
  for (let epoch = 1; epoch <= epochs; epoch++) {
    for (let step = 1; step <= steps; step++) parts.push(bar(epoch, step, steps));
    parts.push(`\nepoch ${epoch}: train_loss=0.4183 val_loss=0.5121\n`);
  }
  for (let step = 1; step <= endStep; step++) parts.push(bar(epochs + 1, step, steps));
  return parts.join('');
}

describe.skipIf(!lab).each(['ssh2', 'openssh'] as const)('the last screen of a 1.5 MB progress-bar log over %s', (kind) => {
  const transport: StreamingTransport = createTransport(labClusterConfig(lab!, { transport: kind }));
  let dir = '';
  afterAll(async () => {
    if (dir) await transport.exec(['rm', '-rf', '--', dir]);
    await transport.close();
  });

  it('sends a full screen for a few kB, the same as the raw end shows', async () => {
    dir = `${await homeDirectory(transport)}/mc-lab-screen-${randomBytes(4).toString('hex')}`;
    const path = `${dir}/output.log`;
    const content = Buffer.from(progressLog(40, 400, 177));
    expect(content.length).toBeGreaterThan(1_500_000);
    const written = await transport.exec(['sh', '-c', 'mkdir -p -- "$1" && cat > "$2" && stat -c %s -- "$2"', 'sh', dir, path], { stdin: content.toString() });
    expect(written).toMatchObject({ exitCode: 0, stdout: `${content.length}\n` });

    const screen = await readOutputScreen(transport, path, { maxBytes: LOG_TAIL_BYTES.default, lines: LOG_SCREEN_LINES, scanBytes: LOG_SCAN_BYTES });
    expect(screen).toMatchObject({ size: content.length, startsAtFileStart: false });
    const seen = shown(Buffer.from(screen.text), false);
    expect(seen).toBe(shown(content.subarray(screen.fromByte), false));
    expect(seen.split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(LOG_SCREEN_LINES);
    expect(seen.split('\n').at(-1)).toBe(cleanLog(bar(41, 177, 400), { collapseProgress: true }));
    // A screen of ~100-byte lines, where the old 256 kB tail sent 256 kB and showed 6 of them.
    expect(Buffer.byteLength(screen.text)).toBeLessThan(16 * 1024);
    expect(shown(content, true).endsWith(seen)).toBe(true);
  });

  it('reads the file again as it grows, from the size it measured', async () => {
    const path = `${dir}/output.log`;
    const appended = `\nepoch 41: train_loss=0.4000 val_loss=0.5000\n${bar(42, 1, 400)}`;
    expect((await transport.exec(['sh', '-c', 'printf %s "$2" >> "$1"', 'sh', path, appended])).exitCode).toBe(0);
    const screen = await readOutputScreen(transport, path, { maxBytes: LOG_TAIL_BYTES.default, lines: LOG_SCREEN_LINES, scanBytes: LOG_SCAN_BYTES });
    const seen = shown(Buffer.from(screen.text), screen.startsAtFileStart);
    expect(seen.endsWith(`epoch 41: train_loss=0.4000 val_loss=0.5000\n${cleanLog(bar(42, 1, 400), { collapseProgress: true })}`)).toBe(true);
    expect(seen.split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(LOG_SCREEN_LINES);
  });
});
