import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { initialState, needsReread, parseMetrics, rereadState, type ParsedPoint } from './parse.js';

const fixture = (name: string) => readFileSync(new URL(`../../test/fixtures/metrics/${name}`, import.meta.url));
const triples = (points: ParsedPoint[]) => points.map((p) => [p.name, p.step, p.value]);

describe('CSV metrics', () => {
  it("read Lightning's metrics.csv: empty cells are no point, step from the step column, nan as NaN", () => {
    const points = parseMetrics('csv', fixture('lightning.csv'), initialState('csv'), { final: true }).points;
    expect(triples(points.slice(0, 2))).toEqual([['train_loss_step', 1, 1.9445323982418228], ['train_loss_step', 3, 1.728471953253109]]);
    expect(points.filter((p) => p.name === 'val_acc').map((p) => p.step)).toEqual([9, 19, 29, 39, 49, 59]);
    expect(points.find((p) => p.step === 47)!.value).toBeNaN();
    expect(points.filter((p) => p.name === 'lr-AdamW')).toHaveLength(4);
    expect(points.some((p) => p.name === 'epoch' || p.name === 'step')).toBe(false);
  });

  it('see that Lightning rewrote the file under a wider header, and give every row once when read again from byte 0', () => {
    const before = fixture('lightning-before-rewrite.csv');
    const after = fixture('lightning.csv');
    const whole = parseMetrics('csv', after, initialState('csv'), { final: true }).points;
    const first = parseMetrics('csv', before, initialState('csv'));
    expect(first.consumed).toBe(before.length);
    const next = parseMetrics('csv', after.subarray(first.consumed), first.state);
    expect(next.points).toEqual([]);
    expect(needsReread('csv', next.state)).toBe(true);
    const again = parseMetrics('csv', after, rereadState('csv', next.state), { final: true });
    expect(needsReread('csv', again.state)).toBe(false);
    expect([...first.points, ...again.points]).toEqual(whole);
  });

  it('take a last row without newline only when the job ended and the row has every cell; a time column is the time', () => {
    const text = 'step,time,loss\n1,1714566600.5,0.5\n2,1714566601,0.4';
    const live = parseMetrics('csv', Buffer.from(text), initialState('csv'));
    expect(live.points).toEqual([{ name: 'loss', step: 1, value: 0.5, time: 1714566600500 }]);
    expect(parseMetrics('csv', Buffer.from(text), initialState('csv'), { final: true }).points).toHaveLength(2);
    expect(parseMetrics('csv', Buffer.from('step,loss\n1,0.5\n2'), initialState('csv'), { final: true }).consumed).toBe(16);
    expect(triples(parseMetrics('csv', Buffer.from('"a,b",loss\n"x ""y""",0.5\n'), initialState('csv')).points)).toEqual([['loss', 0, 0.5]]);
  });
});

describe('JSON lines metrics', () => {
  it("read Python's json.dumps lines: nested keys with '/', NaN and Infinity, no string, list or bool, time from time/timestamp", () => {
    const points = parseMetrics('jsonl', fixture('python.jsonl'), initialState('jsonl'), { final: true }).points;
    expect(points.slice(0, 3)).toEqual([
      { name: 'train/loss', step: 0, value: 1, time: 1714566600000 },
      { name: 'train/acc', step: 0, value: 0, time: 1714566600000 },
      { name: 'lr', step: 0, value: 0.001, time: 1714566600000 },
    ]);
    expect(points.find((p) => p.name === 'train/loss' && p.step === 21)!.value).toBeNaN();
    expect(points.find((p) => p.name === 'grad_norm')).toMatchObject({ step: 24, value: Number.POSITIVE_INFINITY });
    expect(triples(points.slice(-4))).toEqual([['val_loss', 0, 0.25], ['val_acc', 0, 0.9], ['val_loss', 2, 0.2], ['val_acc', 2, 0.93]]);
    expect(points.at(-1)!.time).toBe(Date.parse('2024-05-01T12:40:00Z'));
    expect(new Set(points.map((p) => p.name))).toEqual(new Set(['train/loss', 'train/acc', 'lr', 'grad_norm', 'val_loss', 'val_acc']));
  });

  it('take a last line without newline when the job ended only if it is a whole object', () => {
    expect(parseMetrics('jsonl', Buffer.from('{"loss": 0.5}\n{"loss": 0.4}'), initialState('jsonl'), { final: true }).consumed).toBe(27);
    const torn = parseMetrics('jsonl', Buffer.from('{"loss": 0.5}\n{"loss": 0.'), initialState('jsonl'), { final: true });
    expect([torn.points.length, torn.consumed]).toEqual([1, 14]);
  });
});

describe('parseMetrics', () => {
  it('starts over from a stored state that is not its own rather than throwing', () => {
    for (const state of [null, 'x', 42, { bars: 'no' }, { skip: -1, plugins: null }, initialState('tfevents')]) {
      expect(triples(parseMetrics('log', Buffer.from('loss=0.5\n'), state).points)).toEqual([['loss', 0, 0.5]]);
    }
    expect(parseMetrics('log', Buffer.from('x loss=0.5\n'), { skipping: false, order: 0, epoch: null, bars: { 'tqdm:': null } }).points).toHaveLength(1);
  });
});
