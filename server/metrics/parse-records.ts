// What the text formats share: cutting a chunk into complete records at byte boundaries that do not depend on how
// the file was cut into chunks, reading numbers as training code prints them, a tolerant reader of JSON and of
// Python's dict repr, and the step/time keys of a record.
import type { ParsedPoint } from './parse.js';

/**
 * A record longer than this is dropped whole (never parsed in parts): no metric line is that long, and a reader that
 * gives at least this many bytes per call can then never stall on a line that does not end.
 */
export const MAX_RECORD_BYTES = 65536;

/** Longest metric name kept; a longer key is not a metric name. */
const MAX_NAME = 200;

export interface Segment {
  text: string;
  /** The byte that ended it: '\n', '\r', or null for a last line taken at the end of a final read. */
  end: '\n' | '\r' | null;
}

/**
 * The complete records of `chunk`: text up to each terminator (`\n`, or `\r` when `carriageReturns`, as tqdm
 * redraws end with it). A record longer than MAX_RECORD_BYTES is dropped, also when it spans calls (`skipping`).
 * `consumed` ends after the last terminator, or at the end of the chunk while an over-long record is skipped.
 */
export function splitRecords(
  chunk: Buffer,
  skipping: boolean,
  carriageReturns: boolean,
  final: boolean,
): { segments: Segment[]; consumed: number; skipping: boolean; tail: string | null } {
  const segments: Segment[] = [];
  let start = 0;
  let dropping = skipping;
  for (let i = 0; i < chunk.length; i++) {
    const byte = chunk[i];
    if (byte !== 0x0a && !(carriageReturns && byte === 0x0d)) continue;
    if (!dropping && i - start <= MAX_RECORD_BYTES) segments.push({ text: chunk.toString('utf8', start, i), end: byte === 0x0a ? '\n' : '\r' });
    dropping = false;
    start = i + 1;
  }
  const rest = chunk.length - start;
  if (dropping || rest > MAX_RECORD_BYTES) return { segments, consumed: chunk.length, skipping: true, tail: null };
  // The last line of a file that will not grow: its parser decides whether it is complete by its own syntax.
  const tail = final && rest > 0 ? chunk.toString('utf8', start) : null;
  return { segments, consumed: start, skipping: false, tail };
}

const NUMBER = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;
const NAN = /^[-+]?nan$/i;
const INFINITY = /^([-+]?)inf(?:inity)?$/i;

/** A number as Python, JSON or C print it (`0.5`, `1e-05`, `nan`, `-inf`, `Infinity`), else undefined. */
export function readNumber(text: string): number | undefined {
  if (NUMBER.test(text)) return Number(text);
  if (NAN.test(text)) return Number.NaN;
  const infinity = INFINITY.exec(text);
  if (infinity) return infinity[1] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  return undefined;
}

/** Keys that say where a record stands, most precise first; they are the step, never a metric of their own. */
export const STEP_KEYS = ['step', 'global_step', '_step', 'trainer/global_step', 'iteration', 'iter', 'num_updates', 'epoch'];
const STEP_KEY_SET = new Set(STEP_KEYS);
/** Keys that may hold when the record was written (epoch seconds or milliseconds, or an ISO date). */
const TIME_KEYS = ['time', 'timestamp', '_timestamp', 'wall_time', 'walltime'];

export function isStepKey(name: string): boolean {
  return STEP_KEY_SET.has(name.toLowerCase());
}

/** Epoch milliseconds from a time cell, or null when it is not a plausible date (2001–2286). */
export function readTime(value: unknown): number | null {
  let ms: number | undefined;
  if (typeof value === 'number') ms = value >= 1e9 && value < 1e10 ? value * 1000 : value >= 1e12 && value < 1e13 ? value : undefined;
  else if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(value.trim())) ms = Date.parse(value.trim());
  return ms !== undefined && Number.isFinite(ms) ? ms : null;
}

/**
 * The points of one record (a JSON line, a CSV row, a dict printed in a log): its numeric leaves, flattened with
 * '/', at the record's own step, else at `order()`. Step and time keys are taken as such, not as metrics.
 */
export function recordPoints(fields: Map<string, unknown>, order: () => number): ParsedPoint[] {
  let step: number | undefined;
  for (const key of STEP_KEYS) {
    const value = fields.get(key);
    if (typeof value === 'number' && Number.isFinite(value)) {
      step = value;
      break;
    }
  }
  let time: number | null = null;
  const timeKeys = new Set<string>();
  for (const key of TIME_KEYS) {
    const value = fields.get(key);
    const read = value === undefined ? null : readTime(value);
    if (read !== null) {
      time ??= read;
      timeKeys.add(key);
    }
  }
  const metrics: Array<[string, number]> = [];
  for (const [name, value] of fields) {
    if (typeof value !== 'number' || isStepKey(name) || timeKeys.has(name) || name.length > MAX_NAME) continue;
    metrics.push([name, value]);
  }
  if (metrics.length === 0) return [];
  const at = step ?? order();
  return metrics.map(([name, value]) => ({ name, step: at, value, time }));
}

/** The leaves of a parsed object, nested keys joined with '/' (TensorBoard's and W&B's way); arrays are not scalars. */
export function flatten(value: LooseObject, prefix = '', into = new Map<string, unknown>()): Map<string, unknown> {
  for (const [key, inner] of value) {
    // A key with a control character, or spelled with escapes (marked so by parseLooseObject), is no metric's name:
    // taking it would show a name the file never spelled.
    if (/[\u0000-\u001f\u007f]/.test(key)) continue;
    const name = prefix === '' ? key : `${prefix}/${key}`;
    if (inner instanceof Map) flatten(inner, name, into);
    else if (!into.has(name)) into.set(name, inner);
  }
  return into;
}

export type LooseValue = number | string | boolean | null | LooseObject | LooseValue[];
export type LooseObject = Map<string, LooseValue>;

const MAX_DEPTH = 16;

/**
 * A whole-text object in JSON or in Python's repr (`{'loss': 0.5, 'epoch': 1.0}`, `nan`, `inf`, `True`, `None`),
 * as Python's json.dumps (NaN, Infinity) and print(dict) write them; undefined for anything else, never a throw.
 */
export function parseLooseObject(text: string): LooseObject | undefined {
  let at = 0;
  const space = () => {
    while (at < text.length && (text[at] === ' ' || text[at] === '\t' || text[at] === '\n' || text[at] === '\r')) at++;
  };
  const fail = Symbol('fail');
  const string = (): string | typeof fail => {
    const quote = text[at];
    let out = '';
    let escapes = false;
    at++;
    while (at < text.length) {
      const c = text[at++]!;
      // A string spelled with escapes is marked with a leading NUL: as a key it is no metric's name (flatten skips
      // it), since the name it decodes to is not what the file spells; string values are never metrics anyway.
      if (c === quote) return escapes ? `\u0000${out}` : out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const escaped = text[at++];
      if (escaped === undefined) return fail;
      escapes = true;
      if (escaped === 'u' || escaped === 'x') {
        const digits = text.slice(at, at + (escaped === 'u' ? 4 : 2));
        if (!/^[0-9a-fA-F]+$/.test(digits) || digits.length !== (escaped === 'u' ? 4 : 2)) return fail;
        out += String.fromCharCode(Number.parseInt(digits, 16));
        at += digits.length;
      } else out += ({ n: '\n', t: '\t', r: '\r', b: '\b', f: '\f' } as Record<string, string>)[escaped] ?? escaped;
    }
    return fail;
  };
  const value = (depth: number): LooseValue | typeof fail => {
    space();
    const c = text[at];
    if (c === '{') {
      if (depth >= MAX_DEPTH) return fail;
      at++;
      const object: LooseObject = new Map();
      space();
      if (text[at] === '}') {
        at++;
        return object;
      }
      for (;;) {
        space();
        if (text[at] !== '"' && text[at] !== "'") return fail;
        const key = string();
        if (key === fail) return fail;
        space();
        if (text[at] !== ':') return fail;
        at++;
        const inner = value(depth + 1);
        if (inner === fail) return fail;
        if (!object.has(key)) object.set(key, inner);
        space();
        if (text[at] === ',') {
          at++;
          continue;
        }
        if (text[at] === '}') {
          at++;
          return object;
        }
        return fail;
      }
    }
    if (c === '[' || c === '(') {
      if (depth >= MAX_DEPTH) return fail;
      const close = c === '[' ? ']' : ')';
      at++;
      const list: LooseValue[] = [];
      space();
      if (text[at] === close) {
        at++;
        return list;
      }
      for (;;) {
        const inner = value(depth + 1);
        if (inner === fail) return fail;
        list.push(inner);
        space();
        if (text[at] === ',') {
          at++;
          space();
          if (text[at] === close) {
            at++;
            return list;
          }
          continue;
        }
        if (text[at] === close) {
          at++;
          return list;
        }
        return fail;
      }
    }
    if (c === '"' || c === "'") return string();
    const word = /^[-+\w.]+/.exec(text.slice(at, at + 64))?.[0];
    if (word === undefined) return fail;
    at += word.length;
    if (word === 'true' || word === 'True') return true;
    if (word === 'false' || word === 'False') return false;
    if (word === 'null' || word === 'None') return null;
    const number = readNumber(word);
    return number === undefined ? fail : number;
  };
  space();
  if (text[at] !== '{') return undefined;
  const parsed = value(0);
  space();
  return parsed instanceof Map && at === text.length ? parsed : undefined;
}
