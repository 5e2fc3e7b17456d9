// Metric tables as PyTorch Lightning's CSVLogger writes metrics.csv: a header (`epoch,step,train_loss,val_acc`), then
// one row per logging call with empty cells for the metrics not logged at that step. Step: the row's `step`, else its
// `epoch`, else the row's order. A `time`/`timestamp` column (epoch seconds or ms, or an ISO date) is the points' time.
//
// A header that changes: Lightning (2.x, `_ExperimentWriter.save`) rewrites the whole file with a wider, sorted header
// when a new metric appears, so every byte after the reader's offset moves. Rows are read only under the header read
// at byte 0: a row wider than it says the file was rewritten; from then on nothing more is taken from this reading
// (`needsReread` turns true) and the reader reads the file again from byte 0 with `rereadState`, which passes over
// the rows already given (a rewrite keeps the old rows, in order) so none is given twice. A reader that does not do
// that loses the rows written after the rewrite, never gets a value under a wrong name.
import { MAX_RECORD_BYTES, readNumber, recordPoints } from './parse-records.js';
import type { ParsedPoint, ParseResult } from './parse.js';

export interface CsvState {
  skipping: boolean;
  /** Inside quotes where an over-long record was cut (its newlines inside quotes do not end it). */
  skipQuoted: boolean;
  header: string[] | null;
  /** Data rows taken under `header`. */
  rows: number;
  /** Rows to pass over after a re-read from byte 0 (those given before the file was rewritten). */
  passOver: number;
  order: number;
  /** The file was rewritten under the reader (a row wider than the header). */
  rewritten: boolean;
}

export function initialCsvState(): CsvState {
  return { skipping: false, skipQuoted: false, header: null, rows: 0, passOver: 0, order: 0, rewritten: false };
}

export function rereadCsvState(state: CsvState): CsvState {
  return { ...initialCsvState(), passOver: state.passOver + state.rows, order: state.order };
}

/** RFC 4180 cells of one record (quotes around a cell, "" for a quote inside); null when a quote is left open. */
function cells(record: string): string[] | null {
  const out: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < record.length; i++) {
    const c = record[i]!;
    if (quoted) {
      if (c !== '"') cell += c;
      else if (record[i + 1] === '"') {
        cell += '"';
        i++;
      } else quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cell);
      cell = '';
    } else cell += c;
  }
  if (quoted) return null;
  out.push(cell);
  return out;
}

function rowPoints(record: string, state: CsvState): ParsedPoint[] {
  const text = record.endsWith('\r') ? record.slice(0, -1) : record;
  if (text.trim() === '') return [];
  const row = cells(text);
  if (row === null || state.rewritten) return [];
  if (state.header === null) {
    state.header = row.map((name, i) => (i === 0 ? name.replace(/^\ufeff/, '') : name).trim());
    return [];
  }
  if (row.length !== state.header.length) {
    if (row.length > state.header.length) state.rewritten = true;
    return [];
  }
  if (state.passOver > 0) {
    state.passOver--;
    return [];
  }
  state.rows++;
  const fields = new Map<string, unknown>();
  state.header.forEach((name, i) => {
    const cell = row[i]!.trim();
    // A column whose name holds a control character (a terminal escape, a damaged header) names no metric.
    if (cell === '' || name === '' || fields.has(name) || /[\u0000-\u001f\u007f]/.test(name)) return;
    fields.set(name, readNumber(cell) ?? cell);
  });
  return recordPoints(fields, () => state.order++);
}

export function parseCsv(chunk: Buffer, state: CsvState, final: boolean): ParseResult<CsvState> {
  const next: CsvState = structuredClone(state);
  const points: ParsedPoint[] = [];
  let start = 0;
  let quoted = next.skipping && next.skipQuoted;
  for (let i = 0; i < chunk.length; i++) {
    const byte = chunk[i];
    if (byte === 0x22) quoted = !quoted;
    else if (byte === 0x0a && !quoted) {
      if (!next.skipping && i - start <= MAX_RECORD_BYTES) points.push(...rowPoints(chunk.toString('utf8', start, i), next));
      next.skipping = false;
      start = i + 1;
    }
  }
  const rest = chunk.length - start;
  if (next.skipping || rest > MAX_RECORD_BYTES) {
    next.skipping = true;
    next.skipQuoted = quoted;
    return { points, consumed: chunk.length, state: next };
  }
  if (final && rest > 0 && !quoted) {
    // A last row without newline is whole when it has every cell (or is the header itself).
    const tail = chunk.toString('utf8', start);
    const row = cells(tail.replace(/\r$/, ''));
    if (row !== null && (next.header === null || row.length === next.header.length)) {
      points.push(...rowPoints(tail, next));
      return { points, consumed: chunk.length, state: next };
    }
  }
  return { points, consumed: start, state: next };
}
