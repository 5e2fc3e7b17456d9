// Words and numbers as the screens show them.
import type { JobState } from '../api/jobs';

const STATE_LABELS: Record<JobState, string> = {
  SUBMITTING: 'Submitting',
  SUBMIT_FAILED: 'Submit failed',
  PENDING: 'Pending',
  RUNNING: 'Running',
  COMPLETING: 'Completing',
  COMPLETED: 'Completed',
  FAILED: 'Failed',
  CANCELLED: 'Cancelled',
  TIMEOUT: 'Timed out',
  OUT_OF_MEMORY: 'Out of memory',
  NODE_FAIL: 'Node failure',
  PREEMPTED: 'Preempted',
  UNKNOWN: 'Unknown',
};

export const stateLabel = (state: JobState) => STATE_LABELS[state] ?? state;

export type Tone = 'ok' | 'bad' | 'wait' | 'run' | 'off';

/** The badge colour family; the label (and a glyph) carry the meaning, colour only helps. */
export function stateTone(state: JobState): Tone {
  switch (state) {
    case 'COMPLETED':
      return 'ok';
    case 'RUNNING':
    case 'COMPLETING':
      return 'run';
    case 'PENDING':
    case 'SUBMITTING':
      return 'wait';
    case 'CANCELLED':
    case 'UNKNOWN':
      return 'off';
    default:
      return 'bad';
  }
}

const GLYPHS: Record<Tone, string> = { ok: '✓', run: '▶', wait: '◷', off: '⊘', bad: '✕' };
export const stateGlyph = (state: JobState) => GLYPHS[stateTone(state)];

/** 3725 → "1 h 2 min"; 59 → "59 s". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min ${s % 60} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

export const secondsBetween = (from: string | null | undefined, to: string | number | null | undefined) =>
  from && to !== null && to !== undefined ? Math.max(0, (new Date(to).getTime() - new Date(from).getTime()) / 1000) : null;

/** "just now", "5 min ago", "3 h ago", then the date. */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const seconds = (now - new Date(iso).getTime()) / 1000;
  if (seconds < 10) return 'just now';
  if (seconds < 60) return `${Math.floor(seconds)} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return dateTime(iso);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * "Nov 24, 14:05" in the device's time zone, with the year when it is not this year. Written out rather than
 * through Intl: the first Intl.DateTimeFormat of a page loads ICU's locale data, a 40–90 ms block on a phone that
 * was the largest single task of the Job screen's start. The app speaks English; 24-hour times read the same
 * everywhere.
 */
export function dateTime(iso: string | null | undefined, now = new Date()): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '—';
  const year = date.getFullYear() === now.getFullYear() ? '' : ` ${date.getFullYear()}`;
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${MONTHS[date.getMonth()]} ${date.getDate()}${year}, ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export const shortSha = (sha: string | null | undefined) => (sha ? sha.slice(0, 8) : '—');

export const plural = (count: number, word: string, many = `${word}s`) => `${count} ${count === 1 ? word : many}`;
