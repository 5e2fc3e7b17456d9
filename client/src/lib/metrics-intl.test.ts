// The metrics rules load with the job screen and run in its first render: they build no Intl object, whose first
// one in a page loads ICU's data (16-30 ms on a desktop, four times that on a phone, in the job screen's longest
// task). Names still sort case-blind with numbers by value, and integers still read with thousands separators.
import { afterEach, describe, expect, it, vi } from 'vitest';

type IntlKind = 'Collator' | 'NumberFormat' | 'DateTimeFormat' | 'PluralRules';

/** Counts the objects built of an Intl kind, still building real ones. */
function watch(kind: IntlKind) {
  const Real = Intl[kind] as unknown as new (...args: unknown[]) => object;
  return vi.spyOn(Intl, kind).mockImplementation(function (...args: unknown[]) {
    return new Real(...args);
  } as never);
}

describe('metrics rules without Intl', () => {
  afterEach(() => vi.restoreAllMocks());

  it('sorts names and formats numbers without building an Intl object', async () => {
    const built = (['Collator', 'NumberFormat', 'DateTimeFormat', 'PluralRules'] as const).map(watch);
    vi.resetModules();
    const metrics = await import('./metrics');
    expect(metrics.trainingMetricNames(['val_acc', 'gpu0.utilization', 'acc10', 'Acc2', 'loss', 'acc2'])).toEqual(['loss', 'acc2', 'Acc2', 'acc10', 'val_acc']);
    const gpus = metrics.gpuMetricNames(['node10/gpu0.utilization', 'node2/gpu1.utilization', 'node2/gpu0.utilization']);
    expect(gpus.utilization.map((entry) => entry.label)).toEqual(['node2 GPU 0', 'node2 GPU 1', 'node10 GPU 0']);
    expect([0, 999, 1000, 12_000, 1_234_567].map(metrics.formatStep)).toEqual(['0', '999', '1,000', '12,000', '1,234,567']);
    expect([-12_000, 999_999, -5].map((value) => metrics.formatMetric(value))).toEqual(['-12,000', '999,999', '-5']);
    for (const spy of built) expect(spy).not.toHaveBeenCalled();
  });
});
