import { describe, expect, it } from 'vitest';
import { alignSeries, bestRun, runMetricValues, betterDirection, chartSummary, defaultMetricNames, formatMetric, formatStep, gpuMetricNames, nonFiniteNote, seriesStats, trainingMetricNames, type MetricPoint } from './metrics';

const points = (...values: Array<[number, number | null, string?]>): MetricPoint[] => values.map(([step, value, nonFinite]) => ({ step, value, nonFinite: nonFinite ?? null }));

describe('metric names', () => {
  const names = ['val_acc', 'gpu0.utilization', 'loss', 'gpu1.utilization', 'train_loss', 'lr', 'gpu0.memory_used_mib', 'gpu0.memory_total_mib', 'val_loss', 'epoch_loss'];

  it('shows the loss-like metrics first, at most three, and never the GPU sampler’s', () => {
    expect(trainingMetricNames(names)).toEqual(['epoch_loss', 'loss', 'train_loss', 'val_loss', 'lr', 'val_acc']);
    expect(defaultMetricNames(names)).toEqual(['epoch_loss', 'loss', 'train_loss']);
    expect(defaultMetricNames(['val_acc', 'lr', 'gpu0.utilization'])).toEqual(['lr']);
    expect(defaultMetricNames(['gpu0.utilization'])).toEqual([]);
  });

  it('groups GPU series per kind, in node and index order', () => {
    const gpus = gpuMetricNames(['gpu-h100/gpu1.utilization', 'gpu-a100/gpu10.utilization', 'gpu-a100/gpu2.utilization', 'gpu-a100/gpu2.memory_used_mib', 'loss']);
    expect(gpus.utilization.map((entry) => entry.label)).toEqual(['gpu-a100 GPU 2', 'gpu-a100 GPU 10', 'gpu-h100 GPU 1']);
    expect(gpus.memoryUsed).toEqual([{ name: 'gpu-a100/gpu2.memory_used_mib', label: 'gpu-a100 GPU 2' }]);
    expect(gpuMetricNames(['gpu0.memory_total_mib']).memoryTotal).toEqual([{ name: 'gpu0.memory_total_mib', label: 'GPU 0' }]);
  });

  it('knows which way is better', () => {
    for (const name of ['loss', 'val_loss', 'train/loss_epoch', 'error_rate', 'val_err', 'perplexity', 'val_ppl', 'mse', 'test_rmse', 'wer']) expect(betterDirection(name), name).toBe('min');
    for (const name of ['val_acc', 'accuracy', 'f1', 'bleu', 'reward', 'mean_iou', 'terrain', 'lr']) expect(betterDirection(name), name).toBe('max');
  });
});

describe('alignSeries', () => {
  it('puts every step of every series on one axis: missing is joined over, NaN and infinities are gaps with a mark', () => {
    const aligned = alignSeries([{ points: points([0, 2], [10, null, 'NaN'], [20, 1.5]) }, { points: points([5, 3], [20, null, 'Infinity']) }]);
    expect(aligned.steps).toEqual([0, 5, 10, 20]);
    expect(aligned.values).toEqual([
      [2, undefined, null, 1.5],
      [undefined, 3, undefined, null],
    ]);
    expect(aligned.marks).toEqual([
      { series: 0, step: 10, kind: 'NaN' },
      { series: 1, step: 20, kind: 'Infinity' },
    ]);
  });

  it('keeps the point read last at a repeated step, and marks only what stays a gap', () => {
    const aligned = alignSeries([{ points: points([1, null, 'NaN'], [1, 0.5], [2, 1], [2, null, '-Infinity']) }]);
    expect(aligned.values).toEqual([[0.5, null]]);
    expect(aligned.marks).toEqual([{ series: 0, step: 2, kind: '-Infinity' }]);
  });

  it('gives empty columns for no series or no points', () => {
    expect(alignSeries([])).toEqual({ steps: [], values: [], marks: [] });
    expect(alignSeries([{ points: [] }])).toEqual({ steps: [], values: [[]], marks: [] });
  });
});

describe('best values', () => {
  const series = points([0, 2], [1, 0.4], [2, null, 'NaN'], [3, 0.9]);

  it('finds the last point, the best finite value and the first non-finite one', () => {
    expect(seriesStats(series, 'min')).toEqual({ last: series[3], best: { value: 0.4, step: 1 }, nonFinite: 1, firstNonFinite: series[2] });
    expect(seriesStats(series, 'max').best).toEqual({ value: 2, step: 0 });
    expect(seriesStats([], 'min')).toEqual({ last: null, best: null, nonFinite: 0, firstNonFinite: null });
  });

  it('picks the best run in either direction, NaN never wins, ties go to the lower index', () => {
    const runs = [
      { index: 0, points: points([0, 0.5]) },
      { index: 1, points: points([0, null, 'NaN']) },
      { index: 2, points: points([0, 0.2], [1, 0.8]) },
      { index: 3, points: points([0, 0.2]) },
    ];
    expect(bestRun(runs, 'min')).toBe(2);
    expect(bestRun(runs, 'max')).toBe(2);
    expect(bestRun([runs[1]!], 'min')).toBeNull();
    expect(bestRun([], 'max')).toBeNull();
    expect(runMetricValues(runs, 'min')).toEqual(
      new Map([
        [0, { last: 0.5, best: 0.5 }],
        [1, { last: null, best: null }],
        [2, { last: 0.8, best: 0.2 }],
        [3, { last: 0.2, best: 0.2 }],
      ]),
    );
    expect(runMetricValues(runs, 'max').get(2)).toEqual({ last: 0.8, best: 0.8 });
  });
});

describe('words and numbers', () => {
  it('formats values and steps to fit a phone', () => {
    expect([0, 0.23146, 1234.5, 12000, 1e-5, -2.5e7, 3].map((value) => formatMetric(value))).toEqual(['0', '0.2315', '1235', '12,000', '1.00e-5', '-2.50e7', '3']);
    expect(formatMetric(null, 'NaN')).toBe('NaN');
    expect(formatMetric(null)).toBe('—');
    expect(formatMetric(Number.NEGATIVE_INFINITY)).toBe('-Infinity');
    expect(formatStep(1200)).toBe('1,200');
    expect(formatStep(2.5)).toBe('2.5');
  });

  it('says where a metric stopped being finite', () => {
    expect(nonFiniteNote('train_loss', points([0, 1], [1200, null, 'NaN'], [1300, null, 'NaN'], [1400, null, 'Infinity']))).toBe('train_loss is NaN at step 1,200 (and 2 more points)');
    expect(nonFiniteNote('loss', points([5, null, '-Infinity']))).toBe('loss is -Infinity at step 5');
    expect(nonFiniteNote('loss', points([0, 1]))).toBeNull();
  });

  it('sums a chart up for a screen reader', () => {
    expect(chartSummary('Loss', [{ label: 'loss', points: points([0, 2], [100, 0.25]) }, { label: 'val_loss', points: points([50, null, 'NaN']) }])).toBe('Loss, steps 0 to 100; last values: loss 0.25, val_loss NaN');
    expect(chartSummary('Loss', [{ label: 'loss', points: [] }])).toBe('Loss: no points yet');
  });
});
