import { describe, expect, it } from 'vitest';
import type { QueueWait, Usage } from '../api/usage';
import { usageRange } from '../api/usage';
import { gpuHourLines, outcomeTotals, waitDuration, waitHint, waitSentence } from './usage';

/** The words as read aloud: no-break spaces as spaces. */
const spaced = (text: string | null) => text?.replaceAll('\u00a0', ' ') ?? null;
const stats = (medianSeconds: number, jobs = 3) => ({ jobs, medianSeconds, p90Seconds: medianSeconds * 2 });
const waits: QueueWait[] = [
  { cluster: 'hpc', partition: null, gpuType: null, last7Days: stats(600), last30Days: stats(900) },
  { cluster: 'hpc', partition: null, gpuType: 'a100', last7Days: stats(7800), last30Days: stats(7000) },
  { cluster: 'hpc', partition: 'gpu', gpuType: 'a100', last7Days: stats(7800), last30Days: stats(7000) },
  { cluster: 'hpc', partition: 'big', gpuType: 'a100', last7Days: null, last30Days: stats(120) },
  { cluster: 'hpc', partition: null, gpuType: 'h100', last7Days: null, last30Days: stats(45) },
];

describe('queue waits in words', () => {
  it('says "A100s on hpc: median wait 2 h 10 min this week", or the 30 days when nothing started this week', () => {
    expect(spaced(waitSentence(waits[1]!))).toBe('a100 on hpc: median wait 2 h 10 min this week');
    expect(spaced(waitSentence(waits[4]!))).toBe('h100 on hpc: median wait 45 s in the last 30 days');
    expect(waitSentence({ ...waits[0]!, last7Days: null, last30Days: null })).toBeNull();
  });

  it("gives the launch form the chosen partition's wait, else the cluster's across partitions", () => {
    expect(spaced(waitHint(waits, 'hpc'))).toBe('median wait 10 min (7 d)');
    expect(spaced(waitHint(waits, 'hpc', 'a100', 'big'))).toBe('median wait 2 min (30 d)');
    expect(spaced(waitHint(waits, 'hpc', 'a100', 'debug'))).toBe('median wait 2 h 10 min (7 d)');
    expect(waitHint(waits, 'hpc', 'v100')).toBeNull();
    expect(waitHint(undefined, 'hpc')).toBeNull();
  });

  it('leaves a zero part out: "5 min", "48 min", "4 h", "2 d", but "2 h 10 min" and "5 min 7 s"', () => {
    expect([300, 2880, 14_400, 172_800, 7800, 307, 45, 0].map(waitDuration).map(spaced)).toEqual(['5 min', '48 min', '4 h', '2 d', '2 h 10 min', '5 min 7 s', '45 s', '0 s']);
    // One unbreakable piece of text on a narrow screen.
    expect(waitDuration(7800)).not.toContain(' ');
  });
});

describe('usage charts', () => {
  const usage = {
    groupBy: 'CLUSTER',
    weeks: ['2026-11-23T00:00:00.000Z', '2026-11-30T00:00:00.000Z'],
    gpuHours: [{ week: '2026-11-30T00:00:00.000Z', key: 'hpc', gpuHours: 12.345 }],
    outcomes: [
      { week: '2026-11-23T00:00:00.000Z', key: 'hpc', state: 'COMPLETED', jobs: 3 },
      { week: '2026-11-30T00:00:00.000Z', key: 'lab', state: 'COMPLETED', jobs: 1 },
      { week: '2026-11-30T00:00:00.000Z', key: 'hpc', state: 'TIMEOUT', jobs: 2 },
    ],
    groups: [{ key: 'hpc', label: 'hpc', gpuHours: 12.345, ended: 5, completed: 3, successRate: 0.6 }],
  } as unknown as Usage;

  it('draws every week of the range, a week without GPU-hours as 0', () => {
    expect(gpuHourLines(usage)).toEqual([{ label: 'hpc', points: [{ step: 1795392000, value: 0, nonFinite: null }, { step: 1795996800, value: 12.35, nonFinite: null }] }]);
  });

  it('adds up each outcome, success first', () => {
    expect(outcomeTotals(usage)).toEqual([{ state: 'COMPLETED', jobs: 4 }, { state: 'TIMEOUT', jobs: 2 }]);
    expect(outcomeTotals(usage, 'lab')).toEqual([{ state: 'COMPLETED', jobs: 1 }]);
  });

  it('asks for whole weeks, this one included', () => {
    const { from, to } = usageRange(2, new Date('2026-12-05T10:00:00Z'));
    expect([from.toISOString(), to.toISOString()]).toEqual(['2026-11-23T00:00:00.000Z', '2026-12-06T00:00:00.000Z']);
  });
});
