// Every metric parser over recorded files cut, spliced and mangled, and over random bytes: it never throws, never
// gives a point whose name and value are not in the bytes it was given, and gives the same points whether a file
// comes whole or in pieces (at every byte boundary of the smaller recorded files, at random ones in several pieces
// with the state stored as JSON between calls, as the reader stores it).
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { displayedText } from './parse-log.js';
import { initialState, parseMetrics, type MetricFormat, type ParsedPoint } from './parse.js';

const fixture = (name: string) => readFileSync(new URL(`../../test/fixtures/metrics/${name}`, import.meta.url));
const CORPUS: Record<MetricFormat, Buffer[]> = {
  log: ['ml-project-plain.log', 'ml-project-nan.log', 'tqdm-loop.log', 'handwritten-styles.log'].map(fixture),
  csv: ['ml-project-plain.csv', 'ml-project-nan.csv', 'lightning.csv', 'lightning-before-rewrite.csv'].map(fixture),
  jsonl: ['python.jsonl'].map(fixture),
  tfevents: ['ml-project-plain.tfevents', 'ml-project-nan.tfevents', 'protobuf.tfevents'].map(fixture),
};
const FORMATS = Object.keys(CORPUS) as MetricFormat[];

/** Reads `file` as the reader does: from its offset, `cuts` bytes at a time, the state through JSON, final at the end. */
function readInPieces(format: MetricFormat, file: Buffer, cuts: number[]): ParsedPoint[] {
  const points: ParsedPoint[] = [];
  let state: unknown = initialState(format);
  let offset = 0;
  for (const end of [...cuts.filter((cut) => cut > 0 && cut < file.length).sort((a, b) => a - b), file.length]) {
    if (end < offset) continue;
    const result = parseMetrics(format, file.subarray(offset, end), state, { final: end === file.length });
    points.push(...result.points);
    offset += result.consumed;
    state = JSON.parse(JSON.stringify(result.state));
  }
  return points;
}

const whole = (format: MetricFormat, file: Buffer) => parseMetrics(format, file, initialState(format), { final: true }).points;
/** Points compared with NaN as a value (toEqual does, but a readable key helps the failure message). */
const keys = (points: ParsedPoint[]) => points.map((p) => `${p.name}@${p.step}=${p.value}|${p.time}`);

/** The point's name is in the bytes, and so is its value: as text (log, CSV, JSON), or as a float32/float64 (events). */
function inSource(format: MetricFormat, source: Buffer, point: ParsedPoint): boolean {
  if (format === 'tfevents') {
    if (!source.includes(Buffer.from(point.name))) return false;
    const f32 = Buffer.alloc(4);
    f32.writeFloatLE(point.value);
    const f64 = Buffer.alloc(8);
    f64.writeDoubleLE(point.value);
    return Number.isNaN(point.value) ? true : source.includes(f32) || source.includes(f64);
  }
  // A CSV field is read as CSV reads it (Python's csv, which Lightning writes with): quotes go, so `"1".5` is 1.5 and a
  // header `0""epoch` names 0epoch.
  const text = format === 'log' ? source.toString('utf8').split(/[\r\n]/).map(displayedText).join('\n') : format === 'csv' ? source.toString('utf8').replaceAll('"', '') : source.toString('utf8');
  const parts = point.name.split('/');
  if (!parts.every((part) => text.includes(part))) return false;
  if (Number.isNaN(point.value)) return /nan/i.test(text);
  if (!Number.isFinite(point.value)) return /inf/i.test(text) || /\d{309}|e\+?\d{3}/i.test(text);
  const tokens = text.match(/[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?/g) ?? [];
  return tokens.some((token) => Number(token) === point.value);
}

const SPLICE = ['\n', '\r', '\r\n', '=', ': ', ',', '"', "'", '{', '}', '[', ']', '|', '%', 'nan', '-inf', 'loss=', 'step=', '1e999', '\u2588', '\x1b[A', '\0', '\ufeff', 'Epoch 3: ', ' 5/10 [00:01<00:02, 3.1it/s, loss=0.5]'];

const mangled = (format: MetricFormat) =>
  fc.oneof(
    fc.constantFrom(...CORPUS[format]).chain((file) => fc.tuple(fc.nat(file.length), fc.nat(file.length)).map(([a, b]) => file.subarray(Math.min(a, b), Math.max(a, b)))),
    fc.array(fc.constantFrom(...CORPUS[format]), { minLength: 2, maxLength: 3 }).map((files) => Buffer.concat(files)),
    fc
      .tuple(fc.constantFrom(...CORPUS[format]), fc.array(fc.tuple(fc.nat(), fc.oneof(fc.constantFrom(...SPLICE), fc.string({ unit: 'binary', maxLength: 6 }))), { minLength: 1, maxLength: 8 }))
      .map(([file, edits]) =>
        edits.reduce((out, [at, piece]) => {
          const i = at % (out.length + 1);
          return Buffer.concat([out.subarray(0, i), Buffer.from(piece), out.subarray(i)]);
        }, file),
      ),
    fc.tuple(fc.constantFrom(...CORPUS[format]), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 12 })).map(([file, flips]) => {
      const out = Buffer.from(file);
      for (const [at, byte] of flips) if (out.length) out[at % out.length] = byte;
      return out;
    }),
    fc.uint8Array({ maxLength: 2000 }).map((bytes) => Buffer.from(bytes)),
    fc.string({ unit: 'grapheme', maxLength: 400 }).map((text) => Buffer.from(text)),
  );

describe('metric parsers on damaged input', () => {
  for (const format of FORMATS) {
    it(`${format}: never throw, never give a point that is not in the bytes, same points in pieces as whole`, () => {
      fc.assert(
        fc.property(mangled(format), fc.array(fc.nat(), { maxLength: 6 }), (file, cuts) => {
          const points = whole(format, file);
          for (const point of points) {
            expect(inSource(format, file, point), `${point.name}=${point.value}`).toBe(true);
            expect(Number.isFinite(point.step)).toBe(true);
          }
          expect(keys(readInPieces(format, file, cuts.map((cut) => cut % (file.length + 1))))).toEqual(keys(points));
        }),
        // A fixed seed by default, so a run is repeatable; MC_PROPERTY_SEED and MC_PROPERTY_RUNS explore further.
        { numRuns: Number(process.env.MC_PROPERTY_RUNS ?? (format === 'log' ? 300 : 200)), seed: Number(process.env.MC_PROPERTY_SEED ?? 20261205) },
      );
    }, 60_000);
  }
});

describe('metric parsers on recorded files cut in two', () => {
  for (const format of FORMATS) {
    it(`${format}: at every byte boundary (every 13th past 4 kB) the two pieces give what the whole file gives`, () => {
      for (const file of CORPUS[format]) {
        const expected = keys(whole(format, file));
        expect(expected.length + (file.length < 100 ? 1 : 0)).toBeGreaterThan(0);
        const stride = file.length > 4096 ? 13 : 1;
        for (let cut = 1; cut < file.length; cut += stride) expect(keys(readInPieces(format, file, [cut])), `cut at ${cut}`).toEqual(expected);
      }
    }, 60_000);
  }
});
