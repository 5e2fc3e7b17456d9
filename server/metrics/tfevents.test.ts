import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeEvent, eventFile, tfrecord } from '../../test/tfevents-writer.js';
import { initialState, parseMetrics, type ParsedPoint } from './parse.js';
import { crc32c, maskCrc, type TfeventsState } from './tfevents.js';

const fixture = (name: string) => readFileSync(new URL(`../../test/fixtures/metrics/${name}`, import.meta.url));
const parse = (bytes: Buffer, state: unknown = initialState('tfevents')) => parseMetrics('tfevents', bytes, state, { final: true });

describe('CRC-32C', () => {
  it('gives the published check values (RFC 3720 B.4, and "123456789")', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
    expect(crc32c(new Uint8Array())).toBe(0);
  });

  it('is masked as TFRecord masks it', () => {
    // rotr15(0) + 0xa282ead8; and one worked by hand: crc 0xe3069283 → rotr15 = 0x2507c60d, + 0xa282ead8 = 0xc78ab0e5.
    expect(maskCrc(0)).toBe(0xa282ead8);
    expect(maskCrc(0xe3069283)).toBe(0xc78ab0e5);
  });
});

describe('event files', () => {
  it("read the fixture project's file (its own stdlib encoder) as its metrics.csv says, with wall_time as time", () => {
    const result = parse(fixture('ml-project-plain.tfevents'));
    const csv = parseMetrics('csv', fixture('ml-project-plain.csv'), initialState('csv'), { final: true }).points;
    const byKey = (points: ParsedPoint[]) => points.map((p) => `${p.name.replace('/', '_').replace('train_', 'train_')}@${p.step}`).sort();
    expect(byKey(result.points)).toEqual(byKey(csv));
    for (const point of result.points) {
      const same = csv.find((row) => row.name === point.name.replace('/', '_') && row.step === point.step)!;
      expect(Math.fround(same.value)).toBeCloseTo(point.value, 5);
      expect(point.time).toBeGreaterThan(1.7e12);
    }
    expect(result.consumed).toBe(fixture('ml-project-plain.tfevents').length);
  });

  it("read the file Google's protobuf runtime and crcmod wrote: simple_value, TF2 scalar tensors (metadata once), NaN, Infinity; no image, histogram, text, rank-1 tensor or graph", () => {
    const expected = JSON.parse(fixture('protobuf.tfevents.expected.json').toString()) as Array<{ name: string; step: number; value: number | string | null; time: number }>;
    const result = parse(fixture('protobuf.tfevents'));
    expect(result.points).toEqual(expected.map((p) => ({ ...p, value: p.value === null ? Number.NaN : p.value === 'Infinity' ? Number.POSITIVE_INFINITY : p.value })));
    expect((result.state as TfeventsState).badRecords).toBe(0);
  });

  it('are written by the test writer byte for byte as the fixture project writes them', () => {
    const file = fixture('ml-project-plain.tfevents');
    const points = parse(file).points;
    const first = file.subarray(12, 12 + file.readUInt32LE(0));
    const version = /brain\.Event:2/.test(first.toString('latin1'));
    expect(version).toBe(true);
    const wallTime = first.readDoubleLE(1);
    const steps = [...new Set(points.map((p) => p.step))];
    const rewritten = eventFile([
      { wallTime, step: 0, fileVersion: 'brain.Event:2' },
      ...steps.flatMap((step) => {
        const at = points.filter((p) => p.step === step);
        const train = at.filter((p) => p.name === 'train/loss');
        const val = at.filter((p) => p.name !== 'train/loss');
        return [
          ...train.map((p) => ({ wallTime: p.time! / 1000, step, scalars: [{ tag: p.name, value: p.value }] })),
          ...(val.length ? [{ wallTime: val[0]!.time! / 1000, step, scalars: val.map((p) => ({ tag: p.name, value: p.value })) }] : []),
        ];
      }),
    ]);
    expect(rewritten.equals(file)).toBe(true);
  });

  it('stop at a torn last record, also on the final read, and take it once it is whole', () => {
    const file = eventFile([1, 2, 3].map((step) => ({ wallTime: 1714566600 + step, step, scalars: [{ tag: 'loss', value: step / 10 }] })));
    const recordLength = file.length / 3;
    for (let cut = file.length - recordLength + 1; cut < file.length; cut++) {
      const torn = parse(file.subarray(0, cut));
      expect(torn.points.map((p) => p.step)).toEqual([1, 2]);
      expect(torn.consumed).toBe(2 * recordLength);
      const rest = parse(file.subarray(torn.consumed), torn.state);
      expect(rest.points.map((p) => p.step)).toEqual([3]);
    }
  });

  it('pass over and count a record whose data CRC fails, and find the framing again after a length whose CRC fails', () => {
    const records = [1, 2, 3, 4].map((step) => tfrecord(encodeEvent({ wallTime: 1714566600, step, scalars: [{ tag: 'loss', value: step }] })));
    const badData = Buffer.from(records[1]!);
    badData[20] = badData[20]! ^ 0x01;
    const badLength = Buffer.from(records[2]!);
    badLength[9] = badLength[9]! ^ 0xff;
    const result = parse(Buffer.concat([records[0]!, badData, badLength, records[3]!]));
    expect(result.points.map((p) => p.value)).toEqual([1, 4]);
    expect((result.state as TfeventsState).badRecords).toBe(2);
    // Garbage between records and at the start.
    const noisy = parse(Buffer.concat([Buffer.from('garbage!'), records[0]!, Buffer.alloc(7, 0x41), records[3]!]));
    expect(noisy.points.map((p) => p.value)).toEqual([1, 4]);
  });

  it('pass over a record longer than 64 kB across calls without holding it, and read what follows', () => {
    const big = tfrecord(encodeEvent({ wallTime: 1, step: 1, graphDef: new Uint8Array(200_000).fill(7) }));
    const after = tfrecord(encodeEvent({ wallTime: 2, step: 2, scalars: [{ tag: 'loss', value: 0.5 }] }));
    const file = Buffer.concat([big, after]);
    let state = initialState('tfevents');
    let offset = 0;
    const points: ParsedPoint[] = [];
    while (offset < file.length) {
      const result = parseMetrics('tfevents', file.subarray(offset, offset + 70_000), state);
      points.push(...result.points);
      offset += result.consumed;
      state = JSON.parse(JSON.stringify(result.state));
    }
    expect(points).toEqual([{ name: 'loss', step: 2, value: 0.5, time: 2000 }]);
  });

  it('take a TF2 tensor scalar of a tag declared "scalars" once, and refuse a tag declared by another plugin', () => {
    const file = eventFile([
      { wallTime: 1, step: 1, scalars: [{ tag: 'acc', value: 0.5, as: 'float-tensor', plugin: 'scalars' }, { tag: 'hp', value: 3, as: 'float-tensor', plugin: 'hparams' }] },
      { wallTime: 2, step: 2, scalars: [{ tag: 'acc', value: 0.75, as: 'double-tensor' }, { tag: 'hp', value: 4, as: 'float-tensor' }] },
    ]);
    const first = parse(file.subarray(0, file.length / 2 + 8));
    const second = parse(file.subarray(first.consumed), JSON.parse(JSON.stringify(first.state)));
    expect([...first.points, ...second.points].map((p) => [p.name, p.step, p.value])).toEqual([
      ['acc', 1, 0.5],
      ['acc', 2, 0.75],
    ]);
  });
});
