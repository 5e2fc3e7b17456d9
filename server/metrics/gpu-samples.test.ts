import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { initialGpuSamplesState, parseGpuSamples, type GpuPoint, type GpuSamplesState } from './gpu-samples.js';

// Two samples of a 2-GPU node as the job script's sampler writes them (TZ=UTC0 nvidia-smi ... noheader,nounits -l).
const FILE = [
  '2026/12/05 01:25:41.661, 0, 87, 26624, 40960',
  '2026/12/05 01:25:41.661, 1, 3, 1146, 40960',
  '2026/12/05 01:26:11.702, 0, 91, 27852, 40960',
  '2026/12/05 01:26:11.702, 1, 0, 1146, 40960',
  '',
].join('\n');

const at = (stamp: string) => Date.parse(stamp);

/** Every point of `text` read in pieces cut at `cuts`, each call given what the last one did not use. */
function readInPieces(text: Buffer, cuts: number[], node?: string): GpuPoint[] {
  const points: GpuPoint[] = [];
  let state: GpuSamplesState = initialGpuSamplesState();
  let pending = Buffer.alloc(0);
  let from = 0;
  for (const cut of [...cuts, text.length]) {
    const chunk = Buffer.concat([pending, text.subarray(from, cut)]);
    from = cut;
    const result = parseGpuSamples(chunk, state, { node });
    points.push(...result.points);
    state = result.state;
    pending = chunk.subarray(result.consumed);
  }
  return points;
}

describe('parseGpuSamples', () => {
  it('gives utilisation and memory per GPU at the sample time, in epoch seconds as the step', () => {
    const { points, consumed } = parseGpuSamples(Buffer.from(FILE), null);
    expect(consumed).toBe(Buffer.byteLength(FILE));
    const first = at('2026-12-05T01:25:41.661Z');
    expect(points.slice(0, 6)).toEqual([
      { name: 'gpu0.utilization', step: Math.floor(first / 1000), value: 87, time: first },
      { name: 'gpu0.memory_used_mib', step: Math.floor(first / 1000), value: 26624, time: first },
      { name: 'gpu0.memory_total_mib', step: Math.floor(first / 1000), value: 40960, time: first },
      { name: 'gpu1.utilization', step: Math.floor(first / 1000), value: 3, time: first },
      { name: 'gpu1.memory_used_mib', step: Math.floor(first / 1000), value: 1146, time: first },
      { name: 'gpu1.memory_total_mib', step: Math.floor(first / 1000), value: 40960, time: first },
    ]);
    expect(points).toHaveLength(12);
    expect(points.filter((point) => point.name === 'gpu1.utilization').map((point) => point.value)).toEqual([3, 0]);
  });

  it("names a node's GPUs with the node when asked (a job on several nodes)", () => {
    const names = parseGpuSamples(Buffer.from(FILE), null, { node: 'gpu-h100' }).points.map((point) => point.name);
    expect(new Set(names)).toEqual(new Set(['gpu-h100/gpu0.utilization', 'gpu-h100/gpu0.memory_used_mib', 'gpu-h100/gpu0.memory_total_mib', 'gpu-h100/gpu1.utilization', 'gpu-h100/gpu1.memory_used_mib', 'gpu-h100/gpu1.memory_total_mib']));
  });

  it('reads values with their units, and drops only the field nvidia-smi could not read', () => {
    const text = '2026/12/05 01:25:41.661, 0, 87 %, 26624 MiB, 40960 MiB\n2026/12/05 01:25:41.661, 1, [N/A], [Not Supported], 81559\n';
    expect(parseGpuSamples(Buffer.from(text), null).points.map((point) => [point.name, point.value])).toEqual([
      ['gpu0.utilization', 87],
      ['gpu0.memory_used_mib', 26624],
      ['gpu0.memory_total_mib', 40960],
      ['gpu1.memory_total_mib', 81559],
    ]);
  });

  it.each([
    ['a header', 'timestamp, index, utilization.gpu [%], memory.used [MiB], memory.total [MiB]'],
    ['no devices', 'No devices were found'],
    ['an error', 'NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver.'],
    ['a day that does not exist', '2026/02/31 01:25:41.661, 0, 87, 26624, 40960'],
    ['an hour that does not exist', '2026/12/05 25:25:41.661, 0, 87, 26624, 40960'],
    ['a year before any GPU sampler', '1970/01/01 00:00:00.000, 0, 87, 26624, 40960'],
    ['utilisation over 100 % and memory that is no number', '2026/12/05 01:25:41.661, 0, 870, x, y'],
    ['a missing field', '2026/12/05 01:25:41.661, 0, 87, 26624'],
    ['negative numbers', '2026/12/05 01:25:41.661, 0, -5, -1, -1'],
  ])('invents no point from %s', (_, line) => {
    expect(parseGpuSamples(Buffer.from(`${line}\n`), null).points).toEqual([]);
  });

  it('waits for the newline of a last line, also at the final read (a torn 87 would read 8)', () => {
    const torn = '2026/12/05 01:25:41.661, 0, 87, 26624, 4096';
    const result = parseGpuSamples(Buffer.from(`${FILE}${torn}`), null, { final: true });
    expect(result.points).toHaveLength(12);
    expect(result.consumed).toBe(Buffer.byteLength(FILE));
  });

  it('gives the same points however the file is cut into reads', () => {
    const text = Buffer.from(FILE);
    const whole = parseGpuSamples(text, null).points;
    for (let cut = 0; cut <= text.length; cut++) expect(readInPieces(text, [cut])).toEqual(whole);
    for (let round = 0; round < 50; round++) {
      const cuts = Array.from({ length: 4 }, () => Math.floor(Math.random() * text.length)).sort((a, b) => a - b);
      expect(readInPieces(text, cuts)).toEqual(whole);
    }
  });

  it('drops an over-long line whole, also when it spans reads, and goes on after it', () => {
    const text = Buffer.from(`${'9'.repeat(10_000)}, 0, 87, 1, 2\n${FILE}`);
    expect(readInPieces(text, [3000, 6000, 9000])).toEqual(parseGpuSamples(Buffer.from(FILE), null).points);
    const first = parseGpuSamples(text.subarray(0, 5000), null);
    expect(first).toMatchObject({ points: [], consumed: 5000, state: { skipping: true } });
  });

  it('never throws and only gives finite, in-range points on random, cut and spliced input', () => {
    const lines = FILE.split('\n');
    for (let round = 0; round < 300; round++) {
      const pieces: Buffer[] = [];
      for (let piece = 0; piece < 6; piece++) {
        const line = lines[Math.floor(Math.random() * lines.length)]!;
        const roll = Math.random();
        pieces.push(roll < 0.3 ? randomBytes(Math.floor(Math.random() * 80)) : Buffer.from(roll < 0.6 ? line.slice(0, Math.floor(Math.random() * line.length)) : `${line}\n`));
      }
      const text = Buffer.concat(pieces);
      const points = readInPieces(text, [Math.floor(Math.random() * text.length)]);
      for (const point of points) {
        expect(Number.isFinite(point.value) && point.value >= 0).toBe(true);
        if (point.name.endsWith('.utilization')) expect(point.value).toBeLessThanOrEqual(100);
        expect(point.time).toBeGreaterThanOrEqual(Date.UTC(2001, 0, 1));
      }
      // Every point comes from a whole sample line of the input.
      const whole = new Set(text.toString('utf8').split('\n').slice(0, -1));
      for (const point of points) expect([...whole].some((line) => parseGpuSamples(Buffer.from(`${line}\n`), null).points.some((from) => from.name === point.name && from.value === point.value && from.time === point.time))).toBe(true);
    }
  });
});
