// The one entry point of the metric parsers: pure functions from the bytes of a file, read incrementally by byte
// offset, to points. The reader calls parseMetrics with the bytes from its offset, advances the offset by `consumed`
// and keeps `state` (JSON) for the next call, also across restarts; what was not consumed is given again with more
// bytes. Cutting a file into calls anywhere gives the same points as reading it whole (property-tested), provided
// a call is given at least MAX_RECORD_BYTES + 16 bytes whenever the file has them: a record that long is dropped,
// and a shorter chunk would never hold it whole.
//
// Formats and their rules are in parse-log.ts (the job's output: progress bars, log lines, JSON lines), parse-csv.ts
// (Lightning's CSVLogger), parse-jsonl.ts and tfevents.ts (TensorBoard). None throws on any input.
import { initialCsvState, parseCsv, rereadCsvState, type CsvState } from './parse-csv.js';
import { initialJsonlState, parseJsonl, type JsonlState } from './parse-jsonl.js';
import { initialLogState, parseLog, type LogState } from './parse-log.js';
import { initialTfeventsState, parseTfevents, type TfeventsState } from './tfevents.js';

export { MAX_RECORD_BYTES } from './parse-records.js';

export type MetricFormat = 'log' | 'csv' | 'jsonl' | 'tfevents';
export const METRIC_FORMATS: readonly MetricFormat[] = ['log', 'csv', 'jsonl', 'tfevents'];

export interface ParsedPoint {
  name: string;
  step: number;
  value: number;
  /** epoch ms when the source says it (tfevents wall_time, a CSV/JSON `time`/`timestamp` column), else null */
  time: number | null;
}

export interface ParseResult<S> {
  points: ParsedPoint[];
  /** bytes of `chunk` fully used: the reader's offset advances by this; what follows is given again next time with more bytes */
  consumed: number;
  state: S;
}

interface States {
  log: LogState;
  csv: CsvState;
  jsonl: JsonlState;
  tfevents: TfeventsState;
}

/** The state before the first byte of a file (JSON-serialisable, as every state returned). */
export function initialState(format: MetricFormat): unknown {
  switch (format) {
    case 'log':
      return initialLogState();
    case 'csv':
      return initialCsvState();
    case 'jsonl':
      return initialJsonlState();
    case 'tfevents':
      return initialTfeventsState();
  }
}

/**
 * A state as the reader stored it, checked for the fields its format needs: one from another format, another
 * version of this code or a damaged row starts the file's parsing over rather than throwing mid-tick.
 */
function stateOf<F extends MetricFormat>(format: F, state: unknown): States[F] {
  const fresh = initialState(format) as States[F];
  if (typeof state !== 'object' || state === null) return fresh;
  for (const [key, value] of Object.entries(fresh as object)) {
    const stored = (state as Record<string, unknown>)[key];
    const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
    if (kind(stored) !== kind(value) && !(value === null && (kind(stored) === 'array' || kind(stored) === 'string'))) return fresh;
  }
  return state as States[F];
}

export function parseMetrics(format: MetricFormat, chunk: Buffer, state: unknown, options?: { final?: boolean }): ParseResult<unknown> {
  try {
    return parseWith(format, chunk, state, options?.final ?? false);
  } catch {
    // Only a stored state damaged inside (every parser is property-tested not to throw from its own states).
    return parseWith(format, chunk, initialState(format), options?.final ?? false);
  }
}

function parseWith(format: MetricFormat, chunk: Buffer, state: unknown, final: boolean): ParseResult<unknown> {
  switch (format) {
    case 'log':
      return parseLog(chunk, stateOf('log', state), final);
    case 'csv':
      return parseCsv(chunk, stateOf('csv', state), final);
    case 'jsonl':
      return parseJsonl(chunk, stateOf('jsonl', state), final);
    case 'tfevents':
      return parseTfevents(chunk, stateOf('tfevents', state));
  }
}

/**
 * True when the parser found that the file was rewritten under the reader, so the bytes after its offset are not
 * what follows what it read (Lightning's CSVLogger rewrites metrics.csv with a wider header when a metric appears).
 * The reader then reads the file again from byte 0 with `rereadState`, which gives nothing twice.
 */
export function needsReread(format: MetricFormat, state: unknown): boolean {
  return format === 'csv' && stateOf('csv', state).rewritten;
}

/** The state to read a rewritten file again from byte 0 with (see needsReread). */
export function rereadState(format: MetricFormat, state: unknown): unknown {
  return format === 'csv' ? rereadCsvState(stateOf('csv', state)) : initialState(format);
}
