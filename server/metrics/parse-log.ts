// Metrics out of a job's stdout/stderr, as training loops print them. The rule, conservative by design (a number is
// a metric only where the line says so by its shape):
//
// The log is cut at every '\n' and every '\r' (tqdm redraws a bar after '\r' many times a second; each redraw is a
// record of its own, so a bar's values arrive while its line is still being drawn). ANSI escapes and other control
// characters are dropped. A record longer than 64 kB is dropped whole. Then each record is, first match wins:
//
// 1. A whole-line object, JSON or Python's dict repr (`{"step": 10, "loss": 0.5}`, HF Trainer's
//    `{'loss': 0.69, 'learning_rate': 5e-05, 'epoch': 0.1}`): its numeric leaves (nested keys joined with '/'),
//    when one key is metric-like (below) or it has a step key. An object after other text (`config: {...}`) is not.
// 2. A progress bar, tqdm's (`Epoch 3:  50%|█████     | 16/32 [00:01<00:01, 12.3it/s, loss=0.231, v_num=0]`, also
//    Lightning's, and `37it [00:01, 30.1it/s, acc=0.9]` without a total) or Keras's (`32/1875 [>....] - loss: 0.9`):
//    every `name=number` of tqdm's postfix (after the bar's counter, inside its brackets), or `name: number` after a
//    Keras bar; never the bar's percentage, counter, times or rate. Lightning's `v_num` is its version, not a metric.
//    Step: the postfix's own step key, else the bar's counter n plus the totals of the bars of the same kind before
//    it (a kind is the description with its digits masked, `Epoch #`): a bar restarts when its counter goes back or
//    the number in its description changes (for a bar without one, the last `Epoch N` line, as Keras prints it), so
//    `Epoch 2: 3/5` is step 8. A redraw makes a point of a value only when its text changed since the last redraw of
//    that bar (tqdm redraws the same values many times; a value that stays the same gets no new point until it
//    changes or the bar restarts).
// 3. Any other line: `name=number` and `name: number` pairs, and `| name number |` fields (fairseq), taken when one
//    of them is metric-like or the line has a step; never on a line that dumps settings (`Namespace(`, `config:`,
//    `override:`, `args=` ...). Step: a step key among the pairs, else `Step N`/`Iteration N`/`Epoch N` words
//    (`Epoch [2/5], Step [100/600]` is step 2 × 600 + 100), else order.
//
// A number is a whole token: never followed by a letter, '%', '.', ':', '/', '-' or '@' (so no size `3.2GB`, no
// percentage, no version `v1.2.3`, no time `12:30:01`, no date, no IP, no `it/s`), and its name is never preceded by
// '/', '.', '-', '?', '&' or '=' (no `lr=0.1` out of a path or a URL's query). Metric-like names contain a part such
// as loss, acc, error, f1, auc, ppl, bleu, mse, iou, reward, score (see METRIC_WORDS). Order (a record without a
// step) is one counter for the whole log, so train and validation lines stay in time order on one axis.
import { flatten, isStepKey, parseLooseObject, readNumber, recordPoints, splitRecords, STEP_KEYS } from './parse-records.js';
import type { ParsedPoint, ParseResult } from './parse.js';

interface BarState {
  /** Sum of the totals of this kind's bars before the current one. */
  base: number;
  n: number;
  total: number | null;
  /** The number(s) in the description (`Epoch 3` → '3'), or the last epoch line's for a bar without one. */
  label: string;
  /** Each postfix value's text at the last redraw. */
  last: Record<string, string>;
}

export interface LogState {
  skipping: boolean;
  order: number;
  /** The last `Epoch N` read on a line that is not a bar. */
  epoch: string | null;
  bars: Record<string, BarState>;
}

const MAX_BAR_KINDS = 32;

export function initialLogState(): LogState {
  return { skipping: false, order: 0, epoch: null, bars: {} };
}

// ESC sequences: CSI with parameters (colours, cursor moves of nested tqdm bars), OSC up to BEL/ST, one-character ones.
const ESCAPES = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])/g;
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f]/g;

/**
 * A record as a terminal shows it: escapes removed (a colour inside a line joins what it separates, as on screen),
 * other control characters as spaces (a NUL between two digits never makes them one number).
 */
export function displayedText(raw: string): string {
  return raw.replace(ESCAPES, '').replace(CONTROLS, ' ');
}

const NUMBER_TEXT = String.raw`[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:[nN][aA][nN]|[iI][nN][fF](?:inity)?)`;
const NAME_TEXT = String.raw`[A-Za-z_][\w./@-]*`;
const PAIR = new RegExp(String.raw`(?<![\w./\\?&=@-])(${NAME_TEXT})(?:\s?=\s?|:\s+)(${NUMBER_TEXT})(?![\w.%:/\\@-])`, 'g');
const EQUALS_PAIR = new RegExp(String.raw`(?<![\w./\\?&=@-])(${NAME_TEXT})\s?=\s?(${NUMBER_TEXT})(?![\w.%:/\\@-])`, 'g');
const FIELD = new RegExp(String.raw`^(${NAME_TEXT})\s+(${NUMBER_TEXT})$`);
const STEP_WORD = /\b(epoch|step|iteration|iter)\s*\[?\s*(\d+)(?:\s*\/\s*(\d+))?(?![\w.])/gi;
const SETTINGS_DUMP = /\bNamespace\(|\b(?:overrides?|config|cfg|args|arguments|hparams|hyperparameters|params|parameters|settings|options)\b\s*[:=({]/i;

/** Names that are not metrics: Lightning's log version, and headers such as timm's `Train: 0 [...]`. */
const NOT_METRICS = new Set(['v_num', 'train', 'test', 'val', 'valid', 'validation', 'eval', 'evaluation', 'version']);
const METRIC_WORDS = new Set(['map', 'mae', 'mse', 'rmse', 'kl', 'nll', 'f1', 'auc', 'auroc', 'wer', 'cer', 'ppl', 'iou', 'miou', 'dice', 'psnr', 'ssim', 'top1', 'top5', 'acc1', 'acc5', 'mrr', 'ndcg', 'fid', 'gnorm']);
const METRIC_PREFIXES = ['loss', 'acc', 'err', 'perplex', 'entrop', 'reward', 'return', 'score', 'precision', 'recall', 'bleu', 'rouge', 'metric', 'grad_norm'];

function metricLike(name: string): boolean {
  const lower = name.toLowerCase();
  if (lower.includes('grad_norm')) return true;
  return lower.split(/[_./@-]+/).some((part) => METRIC_WORDS.has(part) || METRIC_PREFIXES.some((prefix) => part.startsWith(prefix)));
}

const SCALE: Record<string, number> = { k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15 };
function counter(text: string): number {
  const suffix = text.at(-1)!;
  return suffix in SCALE ? Math.round(Number(text.slice(0, -1)) * SCALE[suffix]!) : Number(text);
}

interface Bar {
  kind: string;
  label: string;
  n: number;
  total: number | null;
  pairs: Array<[string, string]>;
}

const COUNT = String.raw`\d+(?:\.\d+)?[kMGTP]?`;
const TQDM_COUNTER = new RegExp(String.raw`(?:^|[\s|])(${COUNT})(?:/(${COUNT}|\?))?([A-Za-z/]*)\s*$`);
const ELAPSED = /^(?:\?|(?:\d+:)?\d+:\d{2}|\d+(?:\.\d+)?s)(?:<|$)/;
const KERAS = /^(\d+)\/(\d+) \[[=>.]*\](.*)$/;

function pairsIn(text: string, pattern: RegExp): Array<[string, string]> {
  return [...text.matchAll(pattern)].map((match) => [match[1]!, match[2]!]);
}

function readBar(text: string, epoch: string | null): Bar | undefined {
  const keras = KERAS.exec(text);
  if (keras) return { kind: 'keras', label: epoch ?? '', n: Number(keras[1]), total: Number(keras[2]), pairs: pairsIn(keras[3]!, PAIR) };
  if (!text.endsWith(']')) return undefined;
  const open = text.lastIndexOf('[');
  if (open < 0) return undefined;
  const inside = text.slice(open + 1, -1);
  if (!ELAPSED.test(inside.split(',')[0]!.trim())) return undefined;
  const before = text.slice(0, open);
  const count = TQDM_COUNTER.exec(before);
  if (!count) return undefined;
  // What precedes the counter: `desc: 50%|█████     | ` or `desc: ` (no total), or nothing.
  let desc = before.slice(0, count.index + (count[0].startsWith('|') ? 1 : 0)).trimEnd();
  if (desc.endsWith('|')) {
    const barStart = desc.lastIndexOf('|', desc.length - 2);
    if (barStart < 0) return undefined;
    desc = desc.slice(0, barStart).trimEnd();
  }
  desc = desc.replace(/\d{1,3}%$/, '').trimEnd().replace(/:$/, '').slice(0, 100);
  const digits = desc.match(/\d+/g);
  return {
    kind: `tqdm:${desc.replace(/\d+/g, '#')}`,
    label: digits ? digits.join(',') : (epoch ?? ''),
    n: counter(count[1]!),
    total: count[2] === undefined || count[2] === '?' ? null : counter(count[2]),
    pairs: pairsIn(inside, EQUALS_PAIR),
  };
}

function barPoints(bar: Bar, state: LogState): ParsedPoint[] {
  let current = state.bars[bar.kind];
  if (current === undefined) {
    const kinds = Object.keys(state.bars);
    if (kinds.length >= MAX_BAR_KINDS) delete state.bars[kinds[0]!];
    current = { base: 0, n: bar.n, total: bar.total, label: bar.label, last: {} };
    state.bars[bar.kind] = current;
  } else if (bar.n < current.n || bar.label !== current.label) {
    current.base += current.total ?? current.n;
    current.last = {};
  }
  current.n = bar.n;
  current.total = bar.total;
  current.label = bar.label;
  const own = bar.pairs.find(([name]) => isStepKey(name) && STEP_KEYS.indexOf(name.toLowerCase()) < STEP_KEYS.indexOf('epoch'));
  const ownStep = own ? readNumber(own[1]) : undefined;
  const step = ownStep !== undefined && Number.isFinite(ownStep) ? ownStep : current.base + bar.n;
  const points: ParsedPoint[] = [];
  const seen = new Set<string>();
  for (const [name, text] of bar.pairs) {
    if (seen.has(name) || isStepKey(name) || NOT_METRICS.has(name.toLowerCase())) continue;
    seen.add(name);
    if (current.last[name] === text) continue;
    current.last[name] = text;
    points.push({ name, step, value: readNumber(text)!, time: null });
  }
  return points;
}

function lineStep(pairs: Array<[string, string]>, text: string): number | undefined {
  for (const key of STEP_KEYS) {
    const pair = pairs.find(([name]) => name.toLowerCase() === key);
    const value = pair ? readNumber(pair[1]) : undefined;
    if (value !== undefined && Number.isFinite(value)) return value;
  }
  const words = new Map<string, { n: number; total: number | null }>();
  for (const match of text.matchAll(STEP_WORD)) {
    const word = match[1]!.toLowerCase();
    if (!words.has(word)) words.set(word, { n: Number(match[2]), total: match[3] === undefined ? null : Number(match[3]) });
  }
  const epoch = words.get('epoch');
  const inner = words.get('step') ?? words.get('iteration') ?? words.get('iter');
  if (inner && epoch && inner.total !== null) return epoch.n * inner.total + inner.n;
  return inner?.n ?? epoch?.n;
}

function linePoints(text: string, state: LogState): ParsedPoint[] {
  const epochWord = /\bepoch\s*\[?\s*(\d+)/i.exec(text);
  if (epochWord) state.epoch = String(Number(epochWord[1]));
  if (SETTINGS_DUMP.test(text)) return [];
  const pairs = pairsIn(text, PAIR);
  if (text.includes('|')) {
    for (const field of text.split('|')) {
      const match = FIELD.exec(field.trim());
      if (match) pairs.push([match[1]!, match[2]!]);
    }
  }
  if (pairs.length === 0) return [];
  const step = lineStep(pairs, text);
  const metrics = new Map<string, number>();
  for (const [name, value] of pairs) {
    if (isStepKey(name) || NOT_METRICS.has(name.toLowerCase()) || metrics.has(name)) continue;
    metrics.set(name, readNumber(value)!);
  }
  if (metrics.size === 0 || (step === undefined && ![...metrics.keys()].some(metricLike))) return [];
  const at = step ?? state.order++;
  return [...metrics].map(([name, value]) => ({ name, step: at, value, time: null }));
}

function recordLinePoints(text: string, state: LogState): ParsedPoint[] | undefined {
  const object = parseLooseObject(text);
  if (object === undefined) return undefined;
  const fields = flatten(object);
  const keys = [...fields.keys()];
  if (!keys.some((key) => isStepKey(key) || metricLike(key))) return [];
  return recordPoints(fields, () => state.order++);
}

function segmentPoints(raw: string, state: LogState): ParsedPoint[] {
  const text = displayedText(raw).trim();
  if (text === '') return [];
  if (text.startsWith('{') && text.endsWith('}')) {
    const points = recordLinePoints(text, state);
    if (points !== undefined) return points;
  }
  const bar = readBar(text, state.epoch);
  if (bar) return barPoints(bar, state);
  return linePoints(text, state);
}

export function parseLog(chunk: Buffer, state: LogState, final: boolean): ParseResult<LogState> {
  const next: LogState = structuredClone(state);
  const split = splitRecords(chunk, next.skipping, true, final);
  next.skipping = split.skipping;
  const points: ParsedPoint[] = [];
  for (const segment of split.segments) points.push(...segmentPoints(segment.text, next));
  let consumed = split.consumed;
  if (split.tail !== null) {
    points.push(...segmentPoints(split.tail, next));
    consumed = chunk.length;
  }
  return { points, consumed, state: next };
}
