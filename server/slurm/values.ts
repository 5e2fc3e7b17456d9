// Validators for every value a user sends toward SLURM. Each accepts exactly SLURM's own formats, narrowed to
// characters that need no quoting anywhere (they appear in #SBATCH lines, which no shell parses), and throws a
// ValidationError naming the field otherwise.
import { ValidationError } from '../errors.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

function text(field: string, value: unknown): string {
  if (typeof value !== 'string') throw new ValidationError(field, 'must be text');
  return value;
}

export function slurmName(field: string, value: unknown, maxLength = 64): string {
  const name = text(field, value);
  if (name.length === 0) throw new ValidationError(field, 'must not be empty');
  if (name.length > maxLength) throw new ValidationError(field, `must be at most ${maxLength} characters`);
  if (!NAME.test(name)) throw new ValidationError(field, `"${printable(name)}" may contain only letters, digits, . _ + - and must start with a letter or digit`);
  return name;
}

export function count(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new ValidationError(field, 'must be a whole number');
  if (value < min || value > max) throw new ValidationError(field, `must be between ${min} and ${max}`);
  return value;
}

const MEMORY = /^(\d{1,9})([KMGT]?)B?$/i;
const MEMORY_UNITS_MB: Record<string, number> = { K: 1 / 1024, '': 1, M: 1, G: 1024, T: 1024 * 1024 };

/** SLURM memory: a number with an optional K/M/G/T suffix (megabytes when none), e.g. 64G, 500M. */
export function memory(field: string, value: unknown): { text: string; megabytes: number } {
  const raw = text(field, value).trim();
  const match = MEMORY.exec(raw);
  if (!match) throw new ValidationError(field, `"${printable(raw)}" is not a SLURM memory size (examples: 500M, 16G, 1T)`);
  const unit = match[2]!.toUpperCase();
  const megabytes = Number(match[1]) * MEMORY_UNITS_MB[unit]!;
  if (megabytes < 1) throw new ValidationError(field, 'must be at least 1M');
  if (megabytes > 64 * 1024 * 1024) throw new ValidationError(field, 'must be at most 64T');
  return { text: `${match[1]}${unit}`, megabytes };
}

const TIME_FORMATS: Array<[RegExp, (parts: number[]) => number]> = [
  [/^(\d+)$/, ([m]) => m!],
  [/^(\d+):(\d{1,2})$/, ([m, s]) => m! + s! / 60],
  [/^(\d+):(\d{1,2}):(\d{1,2})$/, ([h, m, s]) => h! * 60 + m! + s! / 60],
  [/^(\d+)-(\d{1,2})$/, ([d, h]) => d! * 1440 + h! * 60],
  [/^(\d+)-(\d{1,2}):(\d{1,2})$/, ([d, h, m]) => d! * 1440 + h! * 60 + m!],
  [/^(\d+)-(\d{1,2}):(\d{1,2}):(\d{1,2})$/, ([d, h, m, s]) => d! * 1440 + h! * 60 + m! + s! / 60],
];

/** Minutes of a time as SLURM prints or takes it (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS); null for other text. */
export function slurmMinutes(text: string): number | null {
  for (const [pattern, toMinutes] of TIME_FORMATS) {
    const match = pattern.exec(text);
    if (match) return toMinutes(match.slice(1).map(Number));
  }
  return null;
}

/** SLURM time limit: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS. */
export function timeLimit(field: string, value: unknown): { text: string; minutes: number } {
  const raw = text(field, value).trim();
  const minutes = slurmMinutes(raw);
  if (minutes !== null) {
    if (minutes <= 0) throw new ValidationError(field, 'must be longer than zero');
    if (minutes > 366 * 1440) throw new ValidationError(field, 'must be at most 366 days');
    return { text: raw, minutes };
  }
  throw new ValidationError(field, `"${printable(raw)}" is not a SLURM time limit (MM, HH:MM:SS, D-HH:MM:SS; examples: 30, 4:00:00, 2-00:00:00)`);
}

/** Free text kept in our database only (descriptions): anything printable, bounded. */
export function freeText(field: string, value: unknown, maxLength: number): string {
  const raw = text(field, value);
  if (raw.length > maxLength) throw new ValidationError(field, `must be at most ${maxLength} characters`);
  if (/[\0-\x08\x0b-\x1f\x7f]/.test(raw)) throw new ValidationError(field, 'must not contain control characters');
  return raw;
}

/** Shown back to the user inside an error message: control characters made visible, length bounded. */
function printable(value: string): string {
  const visible = JSON.stringify(value).slice(1, -1);
  return visible.length > 60 ? `${visible.slice(0, 57)}...` : visible;
}
