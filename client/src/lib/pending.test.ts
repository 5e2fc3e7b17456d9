import { describe, expect, it } from 'vitest';
import { pendingLine, startsIn, type WaitingJob } from './pending';

const now = new Date(2026, 11, 5, 10, 0).getTime();
const inMinutes = (minutes: number) => new Date(now + minutes * 60_000).toISOString();

const waiting: WaitingJob = {
  estimatedStartAt: inMinutes(12),
  waitingFor: 'waiting for 2 A100s (Resources)',
  submittedAt: new Date(now - 180_000).toISOString(),
  createdAt: new Date(now - 181_000).toISOString(),
};

describe('a pending job in one line', () => {
  it("says when SLURM expects it to start and what it waits for, with SLURM's word", () => {
    expect(pendingLine(waiting, now)).toBe('≈ starts in 12 min · waiting for 2 A100s (Resources)');
  });

  it('says "no estimate" when SLURM gives none, never a guessed time', () => {
    expect(pendingLine({ ...waiting, estimatedStartAt: null }, now)).toBe('no estimate · waiting for 2 A100s (Resources)');
  });

  it('shows how long it has waited when SLURM gives no reason yet', () => {
    expect(pendingLine({ ...waiting, estimatedStartAt: null, waitingFor: null }, now)).toBe('no estimate · pending 3 min 0 s');
  });
});

describe('startsIn', () => {
  it('rounds to minutes, then hours and minutes, then the date beyond a day', () => {
    expect(startsIn(inMinutes(1.4), now)).toBe('≈ starts in 1 min');
    expect(startsIn(inMinutes(125), now)).toBe('≈ starts in 2 h 5 min');
    expect(startsIn(inMinutes(120), now)).toBe('≈ starts in 2 h');
    expect(startsIn(new Date(2026, 11, 7, 14, 0).toISOString(), now)).toBe('≈ starts Dec 7, 14:00');
  });

  it('says a due or passed estimate is any moment, and an unreadable one is none', () => {
    expect(startsIn(inMinutes(0.5), now)).toBe('≈ starts any moment');
    expect(startsIn(inMinutes(-7), now)).toBe('≈ starts any moment');
    expect(startsIn('soon', now)).toBe('no estimate');
  });
});
