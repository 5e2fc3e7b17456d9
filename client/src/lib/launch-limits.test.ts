import { describe, expect, it } from 'vitest';
import type { PartitionLimits, Preflight } from '../api/launch';
import { memoryHint, partitionLimitsOf, preflightLine, slurmDuration, startText, timeHint } from './launch-limits';

// The lab's gpu partition, as the server reports it.
const gpu: PartitionLimits = { name: 'gpu', isDefault: true, maxTimeMinutes: 2880, defaultTimeMinutes: 60, maxMemoryPerNodeMb: 4000, defaultMemoryPerCpuMb: 100, defaultMemoryPerNodeMb: null };
const cpu: PartitionLimits = { name: 'cpu', isDefault: false, maxTimeMinutes: null, defaultTimeMinutes: null, maxMemoryPerNodeMb: 4000, defaultMemoryPerCpuMb: 100, defaultMemoryPerNodeMb: null };

describe('launch limits', () => {
  it('says what an empty memory or time limit gets and the most the partition allows', () => {
    expect(partitionLimitsOf([gpu, cpu], '')).toBe(gpu);
    expect(partitionLimitsOf([gpu, cpu], 'cpu')).toBe(cpu);
    expect(memoryHint(gpu, 1)).toBe("Empty: 100M per CPU (gpu's default) · at most 4000M");
    expect(memoryHint(gpu, 4)).toBe("Empty: 100M per CPU = 400M (gpu's default) · at most 4000M");
    expect(timeHint(gpu)).toBe("Empty: 01:00:00 (gpu's default) · at most 2-00:00:00");
    expect(timeHint(cpu)).toBe('Empty: no limit');
    expect(timeHint({ ...cpu, maxTimeMinutes: 720 })).toBe("Empty: 12:00:00 (cpu's limit) · at most 12:00:00");
    expect(memoryHint(null, 1)).toBe('e.g. 500M, 16G, 1T');
    expect(slurmDuration(90)).toBe('01:30:00');
  });

  it("puts SLURM's verdict in a line", () => {
    const now = new Date(2026, 11, 5, 10, 0).getTime();
    const accepted: Preflight = { outcome: 'ACCEPTED', estimatedStartAt: new Date(2026, 11, 5, 17, 42).toISOString(), nodes: 'gpu-a100', partition: 'gpu', message: '…', field: null };
    expect(preflightLine(accepted, now)).toEqual({ text: `SLURM accepts this · would start ${startText(new Date(2026, 11, 5, 17, 42), now)} on gpu-a100`, refused: false });
    expect(startText(new Date(now + 30_000), now)).toBe('now');
    // In the phone's own clock style (17:42 or 05:42 PM); another day names its weekday.
    expect(startText(new Date(2026, 11, 5, 17, 42), now)).toMatch(/^≈ \d\d:42( PM)?$/);
    expect(startText(new Date(2026, 11, 8, 9, 15), now)).toMatch(/^≈ [A-Z][a-z]+ 09:15( AM)?$/);
    expect(preflightLine({ ...accepted, estimatedStartAt: null }, now)?.text).toBe('SLURM accepts this · no start estimate on gpu-a100');
    expect(preflightLine({ ...accepted, outcome: 'REFUSED', message: 'Requested node configuration is not available', nodes: null }, now)).toEqual({ text: 'SLURM refuses this: Requested node configuration is not available', refused: true });
    expect(preflightLine({ ...accepted, outcome: 'NOT_ASKED', message: 'SLURM could not be asked: …' }, now)).toEqual({ text: 'SLURM could not be asked: …', refused: false });
    expect(preflightLine(null, now)).toBeNull();
  });
});
