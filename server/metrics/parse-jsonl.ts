// Metric files of one JSON object per line. Every numeric leaf is a metric (nested keys joined with '/'); Python's
// json.dumps writes NaN and Infinity for non-finite floats, and they are read as such. Step: the record's
// step/global_step/epoch key, else the line's order; time: its time/timestamp key. A line that is not an object is
// passed over; a last line without newline is taken once the job ended if it is a whole object.
import { flatten, parseLooseObject, recordPoints, splitRecords } from './parse-records.js';
import type { ParsedPoint, ParseResult } from './parse.js';

export interface JsonlState {
  skipping: boolean;
  order: number;
}

export function initialJsonlState(): JsonlState {
  return { skipping: false, order: 0 };
}

function linePoints(line: string, state: JsonlState): ParsedPoint[] | undefined {
  const object = parseLooseObject(line.trim());
  return object === undefined ? undefined : recordPoints(flatten(object), () => state.order++);
}

export function parseJsonl(chunk: Buffer, state: JsonlState, final: boolean): ParseResult<JsonlState> {
  const next: JsonlState = structuredClone(state);
  const split = splitRecords(chunk, next.skipping, false, final);
  next.skipping = split.skipping;
  const points: ParsedPoint[] = [];
  for (const segment of split.segments) points.push(...(linePoints(segment.text, next) ?? []));
  if (split.tail !== null) {
    const last = linePoints(split.tail, next);
    if (last !== undefined) return { points: [...points, ...last], consumed: chunk.length, state: next };
  }
  return { points, consumed: split.consumed, state: next };
}
