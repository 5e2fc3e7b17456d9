import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { initialState, parseMetrics, type ParsedPoint } from './parse.js';

const fixture = (name: string) => readFileSync(new URL(`../../test/fixtures/metrics/${name}`, import.meta.url));
const parseLog = (text: string | Buffer, final = true) => parseMetrics('log', Buffer.from(text), initialState('log'), { final });
const triples = (points: ParsedPoint[]) => points.map((p) => [p.name, p.step, p.value]);

describe('log metrics', () => {
  it("follow the fixture project's bar as its metrics.csv says: the same values at the same steps, NaN included", () => {
    for (const run of ['plain', 'nan']) {
      const log = parseLog(fixture(`ml-project-${run}.log`)).points;
      const csv = parseMetrics('csv', fixture(`ml-project-${run}.csv`), initialState('csv'), { final: true }).points;
      expect(log.length).toBeGreaterThan(5);
      for (const point of log) {
        const name = point.name === 'loss' ? 'train_loss' : point.name;
        // The bar shows the latest value: the row at this step, or the last validation before it.
        const row = csv.filter((r) => r.name === name && r.step <= point.step).at(-1)!;
        if (Number.isNaN(point.value)) expect(row.value).toBeNaN();
        else expect(Number(row.value.toPrecision(3))).toBeCloseTo(point.value, 6);
      }
      const losses = log.filter((p) => p.name === 'loss');
      expect(losses[0]!.step).toBe(1);
      expect(losses.map((p) => p.step)).toEqual([...losses.map((p) => p.step)].sort((a, b) => a - b));
    }
    expect(triples(parseLog(fixture('ml-project-nan.log')).points).filter(([name, , value]) => name === 'loss' && Number.isNaN(value))).toEqual([['loss', 7, Number.NaN], ['loss', 11, Number.NaN]]);
  });

  it('read a real tqdm 4.64 run: a point per change of the postfix, steps from the bars, epoch lines, a logging line, JSON lines; nothing from the settings, paths, URL, sizes, dates', () => {
    const points = parseLog(fixture('tqdm-loop.log')).points;
    const names = new Set(points.map((p) => p.name));
    expect([...names].sort()).toEqual(['acc', 'grad_norm', 'loss', 'lr', 'test_acc', 'test_loss', 'train_loss', 'val/acc', 'val/loss', 'val_acc', 'val_loss']);
    const loss = points.filter((p) => p.name === 'loss');
    // 3 epochs of 20 batches: the bar's counter plus the epochs before it; every redraw that changed the loss.
    expect(loss[0]).toEqual({ name: 'loss', step: 0, value: 0.693, time: null });
    // tqdm draws a postfix set after batch n at counter n − 1 (it counts the batch after the body): the last is at 59.
    expect(Math.max(...loss.map((p) => p.step))).toBe(59);
    expect(new Set(loss.map((p) => p.step)).size).toBe(loss.length);
    expect(points.filter((p) => p.name === 'lr').map((p) => p.step)).toEqual([0, 20, 40]);
    expect(triples(points.filter((p) => p.name === 'grad_norm'))).toEqual([['grad_norm', 20, 1.94], ['grad_norm', 40, 1.64], ['grad_norm', 60, 1.56]]);
    expect(points.find((p) => p.name === 'test_loss')).toEqual({ name: 'test_loss', step: 60, value: Number.NaN, time: null });
    for (const forbidden of ['batch_size', 'epochs', 'bs', 'free', 'step', 'run', 'model-step']) expect(names).not.toContain(forbidden);
  });

  it('read Lightning, HF Trainer, Keras, timm, fairseq and tutorial-style lines (hand-written from their formats), and none of the settings or noise', () => {
    const points = triples(parseLog(fixture('handwritten-styles.log')).points);
    expect(points).toEqual([
      ['train_loss_step', 16, 0.912],
      ['train_loss_step', 32, 0.645],
      ['val_loss', 32, 0.702],
      ['val_acc', 32, 0.781],
      ['train_loss_epoch', 32, 0.801],
      ['train_loss_step', 48, 0.511],
      ['val_loss', 48, 0.702],
      ['val_acc', 48, 0.781],
      ['train_loss_epoch', 48, 0.801],
      ['loss', 0.1, 0.6931],
      ['grad_norm', 0.1, 1.234],
      ['learning_rate', 0.1, 4.5e-5],
      ['eval_loss', 1, 0.5123],
      ['eval_accuracy', 1, 0.81],
      ['eval_runtime', 1, 1.23],
      ['loss', 1875, 0.2965],
      ['accuracy', 1875, 0.9141],
      ['val_loss', 1875, 0.1438],
      ['val_accuracy', 1875, 0.9573],
      ['loss', 3750, 0.1421],
      ['accuracy', 3750, 0.9578],
      ['val_loss', 3750, 0.1021],
      ['val_accuracy', 3750, 0.9688],
      ['Loss', 0, 6.912],
      ['LR', 0, 1e-6],
      ['Data', 0, 0.01],
      ['Time', 1, 1.905],
      ['Loss', 1, 0.8003],
      ['Acc@1', 1, 85.9375],
      ['Acc@5', 1, 96.0938],
      ['loss', 100, 9.876],
      ['nll_loss', 100, 9.123],
      ['ppl', 100, 557.4],
      ['wps', 100, 12345.6],
      ['lr', 100, 2.5e-5],
      ['gnorm', 100, 1.234],
      ['loss', 1000, 8.765],
      ['nll_loss', 1000, 8.012],
      ['ppl', 1000, 258.1],
      ['Loss', 1300, 0.2856],
    ]);
  });

  it('never take a number out of a path, URL, date, time, version, address, size, percentage, rate or a settings dump', () => {
    for (const line of [
      'checkpoints: /scratch/runs/lr=0.5/bs=16/2024-05-01_12-30-01/ (free: 3.2GB, 87% used)',
      'dashboard: http://10.12.0.7:6006/?run=lr=0.5&loss=0.1',
      'loss_at=2024-05-01 loss_time=12:30:01 loss_v=v1.2.3 loss_ip=10.0.0.1 loss_size=3.2GB loss_pct=50% loss_rate=12.5it/s',
      'Namespace(lr=0.1, loss_weight=0.5)',
      'override: loss_scale=2',
      'composed config: {"loss_weight": 0.5, "epochs": 3}',
      'seed=42 workers=8',
      'saved /runs/model-loss=0.25.pt',
      'host: gpu-node-17 port: 6006',
      '100%|██████████| 10/10 [00:01<00:00,  9.50it/s]',
    ]) {
      expect({ line, points: parseLog(`${line}\n`).points }).toEqual({ line, points: [] });
    }
  });

  it('consume only whole lines and redraws; a last line without newline only once the job ended', () => {
    const live = parseLog('loss=0.5\nloss=0.4\rloss=0.3', false);
    expect(triples(live.points)).toEqual([['loss', 0, 0.5], ['loss', 1, 0.4]]);
    expect(live.consumed).toBe('loss=0.5\nloss=0.4\r'.length);
    const ended = parseMetrics('log', Buffer.from('loss=0.3'), live.state, { final: true });
    expect(triples(ended.points)).toEqual([['loss', 2, 0.3]]);
    expect(ended.consumed).toBe(8);
  });

  it('drop a line longer than 64 kB whole, also when it comes in several calls, and read the next one', () => {
    const long = `loss=1 ${'x'.repeat(70_000)} acc=0.5\nloss=0.25\n`;
    let state = initialState('log');
    let offset = 0;
    const points: ParsedPoint[] = [];
    while (offset < long.length) {
      const result = parseMetrics('log', Buffer.from(long.slice(offset, offset + 66_000)), state, { final: offset + 66_000 >= long.length });
      points.push(...result.points);
      offset += result.consumed;
      state = JSON.parse(JSON.stringify(result.state));
    }
    expect(triples(points)).toEqual([['loss', 0, 0.25]]);
  });

  it('read infinities and NaN as the source prints them', () => {
    expect(triples(parseLog('step=3 loss=nan grad_norm=inf val_loss=-inf acc=NaN\n').points)).toEqual([
      ['loss', 3, Number.NaN],
      ['grad_norm', 3, Number.POSITIVE_INFINITY],
      ['val_loss', 3, Number.NEGATIVE_INFINITY],
      ['acc', 3, Number.NaN],
    ]);
  });
});
