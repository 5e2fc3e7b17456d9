import { describe, expect, it } from 'vitest';
import { ago, dateTime } from './format';

// Dates are built in local time, as the screens show them, so the expectations hold in any time zone.
const local = (...parts: [number, number, number, number, number]) => new Date(...parts).toISOString();

describe('dateTime', () => {
  const now = new Date(2026, 10, 24, 12, 0);

  it('shows month, day and a 24-hour time, without the year when it is this year', () => {
    expect(dateTime(local(2026, 10, 24, 14, 5), now)).toBe('Nov 24, 14:05');
    expect(dateTime(local(2026, 0, 3, 0, 0), now)).toBe('Jan 3, 00:00');
  });

  it('adds the year of another year', () => {
    expect(dateTime(local(2025, 11, 31, 23, 59), now)).toBe('Dec 31 2025, 23:59');
  });

  it('shows a dash for a missing or unreadable time', () => {
    expect(dateTime(null)).toBe('—');
    expect(dateTime('not a date')).toBe('—');
  });

  it('falls back to the date in ago() after a day', () => {
    expect(ago(local(2026, 10, 20, 9, 30), now.getTime())).toBe('Nov 20, 09:30');
    expect(ago(local(2026, 10, 24, 11, 55), now.getTime())).toBe('5 min ago');
  });
});
