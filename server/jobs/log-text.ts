// Job output as a phone can show it: the byte-bounded tail the server read from the cluster, without terminal
// control codes and without the thousands of intermediate states of a progress bar. Pure: text in, text out.

/**
 * How much of a log's end one read ships: the app's default, and the bounds any request is brought within (a 1 GB
 * log is never read whole; the rate limiter charges a token by these bytes).
 */
export const LOG_TAIL_BYTES = { default: 256 * 1024, min: 1024, max: 4 * 1024 * 1024 };

/** How many lines a log read brings at least, where the file's end holds them: a phone's screen. */
export const LOG_SCREEN_LINES = 40;

/**
 * How far back from a log's end one read may look for those lines: progress-bar redraws are cut on the cluster, so
 * a screen of them costs a few kB to send but can take megabytes to find (a tqdm epoch is ~100 kB of redraws).
 */
export const LOG_SCAN_BYTES = 16 * 1024 * 1024;

export const logTailBytes = (requested: number): number => Math.min(Math.max(requested, LOG_TAIL_BYTES.min), LOG_TAIL_BYTES.max);

// 7-bit sequences only: that is what programs write into UTF-8 log files.
const ANSI_SEQUENCE = new RegExp(
  [
    // OSC (ESC ]: titles, OSC 8 hyperlinks) and the other string controls (DCS, SOS, PM, APC), ended by BEL or ESC \.
    // One cut off by the tail's end is removed up to the end of its line, never further.
    String.raw`\x1b[\]PX^_][^\x07\x1b\n]*(?:\x07|\x1b\\)?`,
    // CSI: colours, cursor moves, erase line. The final byte is optional so a sequence cut off at the end goes too.
    String.raw`\x1b\[[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?`,
    // Everything else that starts with ESC: ESC 7, ESC M, ESC ( B, ESC =, or a lone ESC.
    String.raw`\x1b[\x20-\x2f]*[\x30-\x7e]?`,
  ].join('|'),
  'g',
);

/** Remove ANSI escape sequences (CSI incl. colors and cursor moves, OSC, single ESC codes). */
export function stripAnsi(text: string): string {
  return text.replace(ANSI_SEQUENCE, '');
}

/**
 * Carriage-return progress bars (tqdm, pytorch-lightning) collapsed to their last state: within each \n-separated
 * line keep only what follows the last \r (a trailing \r before \n, i.e. CRLF, is not a progress update).
 * Line ends come out as \n.
 */
export function collapseProgress(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const content = line.replace(/\r+$/, '');
      return content.slice(content.lastIndexOf('\r') + 1);
    })
    .join('\n');
}

/**
 * A tail read from the middle of a file starts mid-line and maybe mid-UTF-8-character: drop everything up to and
 * including the first \n when `startsAtFileStart` is false (and say how many bytes were dropped).
 *
 * A tail without any \n (a long tqdm run writes only \r) would otherwise show nothing, so it is cut after its
 * first \r, where the next progress state starts, or failing that at the first whole character.
 */
export function trimPartialFirstLine(chunk: Buffer, startsAtFileStart: boolean): { text: string; droppedBytes: number } {
  if (startsAtFileStart) return { text: chunk.toString('utf8'), droppedBytes: 0 };
  const newline = chunk.indexOf(0x0a);
  const carriageReturn = newline === -1 ? chunk.indexOf(0x0d) : -1;
  // \n and \r never occur inside a multi-byte UTF-8 character, so cutting after one starts at a whole character.
  const cut = newline !== -1 ? newline + 1 : carriageReturn !== -1 ? carriageReturn + 1 : firstCharacterStart(chunk);
  return { text: chunk.subarray(cut).toString('utf8'), droppedBytes: cut };
}

/** Skips the continuation bytes (10xxxxxx) of a character whose first bytes were cut off; UTF-8 has at most 3. */
function firstCharacterStart(chunk: Buffer): number {
  let index = 0;
  while (index < 3 && index < chunk.length && ((chunk[index] ?? 0) & 0xc0) === 0x80) index += 1;
  return index;
}

const URL_IN_TEXT = /https?:\/\/[^\s<>"'`()[\]{}]+/g;
// A W&B run page: …/<entity>/<project>/runs/<run id>, with no "#" route before it (MLflow and Kubeflow print
// "View run … at http://host/#/experiments/0/runs/…").
const RUN_PATH = /^https?:\/\/[^/?#]+(?:\/[^/?#]+)*\/runs\/[^/?#]+/;
// The same, with exactly entity and project before /runs/: the shape that lets a self-hosted server's URL be
// believed on a line that does not otherwise say "wandb" (GitHub's …/owner/repo/actions/runs/1 has three).
const WANDB_RUN_PATH = /^https?:\/\/[^/?#]+\/[^/?#]+\/[^/?#]+\/runs\/[^/?#]+/;
const WANDB_PREFIX = /(?:^|\s)wandb:\s/i;
const VIEW_RUN = /\bView run\b.*\bat:?\s/i;
const SYNCING_RUN = /\bSyncing run\b/i;
// W&B prints the project and run links within a couple of lines after "Syncing run".
const LINES_AFTER_SYNCING = 5;

/**
 * The W&B run URL a run printed ("wandb: 🚀 View run at https://wandb.ai/ent/proj/runs/abc123", "wandb: 🚀 View
 * run my-run at: https://wandb.ai/…/runs/…", "View run at https://wandb.mycompany.internal/ent/proj/runs/x1" for
 * self-hosted servers; also "wandb: Syncing run … " lines followed by the URL). First match wins; null when none.
 * URLs that merely contain "/runs/" on lines unrelated to wandb are not matched.
 */
export function extractWandbUrl(text: string): string | null {
  const lines = stripAnsi(text).split(/\r\n|\r|\n/);
  let linesSinceSyncing = Number.POSITIVE_INFINITY;
  for (const line of lines) {
    const afterSyncing = linesSinceSyncing <= LINES_AFTER_SYNCING;
    linesSinceSyncing = SYNCING_RUN.test(line) ? 0 : linesSinceSyncing + 1;
    for (const url of runUrls(line)) {
      const looksLikeWandb = new URL(url).hostname.includes('wandb') || WANDB_RUN_PATH.test(url);
      if (WANDB_PREFIX.test(line) || ((VIEW_RUN.test(line) || afterSyncing) && looksLikeWandb)) return url;
    }
  }
  return null;
}

function runUrls(line: string): string[] {
  const urls: string[] = [];
  for (const [found] of line.matchAll(URL_IN_TEXT)) {
    const url = found.replace(/[.,;:!?]+$/, '');
    if (RUN_PATH.test(url) && URL.canParse(url)) urls.push(url);
  }
  return urls;
}

export interface CleanLogOptions {
  collapseProgress: boolean;
}

/** stripAnsi, then (optionally) collapseProgress: colour codes inside a bar must go before its \r segments are cut. */
export function cleanLog(text: string, options: CleanLogOptions): string {
  const plain = stripAnsi(text);
  return options.collapseProgress ? collapseProgress(plain) : plain;
}
