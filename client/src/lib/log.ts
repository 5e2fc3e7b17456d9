// A job's log on screen: the tail read once (job.log), then the chunks jobLog streams from where it ended.

/** Carriage-return progress bars (tqdm) collapsed to their last state, line by line; CRLF is a plain line end. */
export function collapseCarriageReturns(text: string): string {
  if (!text.includes('\r')) return text;
  return text
    .split('\n')
    .map((line) => {
      const content = line.replace(/\r+$/, '');
      return content.slice(content.lastIndexOf('\r') + 1);
    })
    .join('\n');
}

export interface LogModel {
  /** Whole lines (each ending in \n). */
  text: string;
  /**
   * The unterminated last line of the tail that was read: a progress bar caught mid-update, or a line still being
   * written. The next chunk finishes it.
   */
  partial: string;
  /**
   * Chunks starting before this byte were already shown: the server shares one tail among a job's watchers, so a
   * chunk can arrive twice, or start inside the tail read at first.
   */
  nextByte: number;
}

const MAX_CHARS = 1_000_000;

/** Keeps the newest part of a log that grew past what a phone should hold, cut at a line start. */
function bound(text: string): string {
  if (text.length <= MAX_CHARS) return text;
  const cut = text.indexOf('\n', text.length - MAX_CHARS);
  return cut < 0 ? text.slice(-MAX_CHARS) : text.slice(cut + 1);
}

export function logFromTail(text: string, sizeBytes: number | null): LogModel {
  const cleaned = collapseCarriageReturns(text);
  const end = cleaned.lastIndexOf('\n') + 1;
  return { text: bound(cleaned.slice(0, end)), partial: cleaned.slice(end), nextByte: sizeBytes ?? 0 };
}

// tqdm and friends repeat the bar's description and show a percentage or a step count: such a line is replaced by
// its next state rather than continued.
const PROGRESS = /\d{1,3}%\||\b\d+\/\d+\b/;

function sharedPrefix(a: string, b: string): number {
  let index = 0;
  while (index < a.length && index < b.length && a[index] === b[index]) index++;
  return index;
}

/** The model after a streamed chunk; chunks already shown are ignored. */
export function appendChunk(model: LogModel, chunk: { fromByte: number; text: string }): LogModel {
  if (chunk.fromByte < model.nextByte) return model;
  let text = collapseCarriageReturns(chunk.text);
  let partial = model.partial;
  if (partial) {
    const firstEnd = text.indexOf('\n');
    const firstLine = firstEnd < 0 ? text : text.slice(0, firstEnd);
    const replaces = PROGRESS.test(partial) && (PROGRESS.test(firstLine) || sharedPrefix(partial, firstLine) >= 4);
    text = (replaces ? '' : partial) + text;
    partial = '';
  }
  const end = text.lastIndexOf('\n') + 1;
  return {
    text: bound(model.text + text.slice(0, end)),
    partial: partial + text.slice(end),
    // The chunk's raw length is unknown (the server cleans what it sends); the next one starts after it anyway.
    nextByte: chunk.fromByte + 1,
  };
}

export const logText = (model: LogModel) => model.text + model.partial;

export interface Segment {
  text: string;
  match: boolean;
}

/** The text cut around each case-insensitive occurrence of `term`, for highlighting. */
export function highlight(text: string, term: string): Segment[] {
  if (!term) return [{ text, match: false }];
  const segments: Segment[] = [];
  const haystack = text.toLowerCase();
  const needle = term.toLowerCase();
  let from = 0;
  for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + needle.length)) {
    if (at > from) segments.push({ text: text.slice(from, at), match: false });
    segments.push({ text: text.slice(at, at + needle.length), match: true });
    from = at + needle.length;
  }
  if (from < text.length) segments.push({ text: text.slice(from), match: false });
  return segments;
}
