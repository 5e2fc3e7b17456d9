// SLURM job commands over a transport: submit (with the code checkout), find a submission again, cancel and read
// output (states: poll.ts). Scripts run on the cluster are constants; every value reaches them as a positional
// argument through the one quoting function. Nothing here knows about the database or GraphQL.
import { SlurmError } from '../errors.js';
import type { Transport } from '../ssh/index.js';
import { jobPathsInShell } from './layout.js';
import { parseSbatchParsable } from './state.js';

/** The cluster's $HOME, to turn `~/…` workspace paths into the absolute paths #SBATCH lines need. */
export async function homeDirectory(transport: Transport): Promise<string> {
  const result = await transport.exec(['sh', '-c', 'printf %s "$HOME"'], { kind: 'home' });
  const home = result.stdout.trim();
  if (result.exitCode !== 0 || !home.startsWith('/')) throw new SlurmError('echo $HOME', result.exitCode, result.stderr || 'no home directory');
  return home;
}

export function expandHome(path: string, home: string): string {
  return path === '~' ? home : path.startsWith('~/') ? `${home}/${path.slice(2)}` : path;
}

/** Exit status the submit script uses when the checkout failed (sbatch itself exits 1 or 255). */
const CHECKOUT_FAILED = 90;

/** Exit status of a submit script that found its launch already given up by a lookup (see FIND_SCRIPT). */
const ABANDONED = 91;

// git on the cluster, for the scripts below. What they are handed is not trusted: the URL was read from a project
// directory, and the checkout and the shared bare clone are writable by every job of the user. So transports are
// limited to git's own that the server lets through (ssh; https and git; file for a local origin: see checkCloneUrl
// in server/git.ts), which refuses ext::, fd:: and remote helpers even where the user's config allows them (an
// older git ignores these keys and keeps its own defaults); no hook runs (a job could have written one into the bare
// clone); no fsmonitor; no prompt that would wait for an answer nobody gives. The user's own ~/.gitconfig stays in
// force (an ssh key chosen with core.sshCommand, git-lfs filters for the checkout): it is theirs, not the project's.
const CLUSTER_GIT = `mc_git() {
  GIT_TERMINAL_PROMPT=0 command git -c protocol.allow=never -c protocol.ssh.allow=always -c protocol.https.allow=always \\
    -c protocol.git.allow=always -c protocol.file.allow=always -c core.hooksPath=/dev/null -c core.fsmonitor=false "$@"
}`;

// One remote command per launch: a shared bare clone per project, a worktree of the exact commit per job (no full
// clone per job), the script stored beside the job, then sbatch. The id is written to `submitted` the moment
// sbatch prints it, so a server that dies right after can still find it.
// A remote command outlives the server that started it (sshd does not end it when the connection drops), so the
// script holds the launch's lock (fd 8) until sbatch has answered, and a lookup takes the same lock: the lookup
// either waits for this script, or, finding nothing, leaves an "abandoned" mark that stops this script from
// submitting later. fd 8 is closed for git, whose background gc could otherwise keep the lock for minutes.
// A job array (a sweep) also sends its run list after the script on stdin, and gets every task's directory made
// before sbatch (SLURM does not create the directory of an --output file): $7 is the --array value, $8 the list's size.
const SUBMIT_SCRIPT = `set -u
url=$1 repo=$2 sha=$3 work_dir=$4 job_dir=$5 script_bytes=$6 array=\${7:-} overrides_bytes=\${8:-0}
${jobPathsInShell()}
${CLUSTER_GIT}
fail() { echo "mission-control: $*" >&2; exit ${CHECKOUT_FAILED}; }
mkdir -p "$job_events" "$(dirname "$repo")" || fail "cannot create $job_dir"
exec 8>"$job_submit_lock" || fail "cannot create $job_submit_lock"
flock 8 2>/dev/null
if [ -e "$job_abandoned" ]; then echo "mission-control: this launch was already given up as never submitted" >&2; exit ${ABANDONED}; fi
(
  flock -w 300 9 2>/dev/null
  if [ ! -d "$repo" ]; then mc_git clone --quiet --bare -- "$url" "$repo" || exit 1; fi
  if ! mc_git -C "$repo" cat-file -e "$sha^{commit}" 2>/dev/null; then
    mc_git -C "$repo" fetch --quiet -- "$url" '+refs/heads/*:refs/heads/*' || exit 1
  fi
  mc_git -C "$repo" worktree add --quiet --detach --force -- "$work_dir" "$sha" || exit 1
) 8>&- 9>"$repo.lock" || fail "could not check out $sha from $url"
head -c "$script_bytes" > "$job_script" || fail "cannot write $job_script"
# A connection lost while the script was being sent leaves part of it: never submit that.
[ "$(wc -c < "$job_script")" -eq "$script_bytes" ] || fail "the job script arrived incomplete"
if [ -n "$array" ]; then
  cat > "$job_overrides" || fail "cannot write $job_overrides"
  [ "$(wc -c < "$job_overrides")" -eq "$overrides_bytes" ] || fail "the run list arrived incomplete"
  mkdir -p "$job_tasks" || fail "cannot create $job_tasks"
  printf '%s\\n' "\${array%%\\%*}" | tr , '\\n' | while IFS=- read -r from to; do seq "$from" "\${to:-$from}"; done |
    sed 's|$|/events|' | (cd "$job_tasks" && xargs mkdir -p) || fail "cannot create the tasks' directories in $job_tasks"
  sbatch --parsable --array="$array" "$job_script" > "$job_submitted.tmp" || exit $?
else
  sbatch --parsable "$job_script" > "$job_submitted.tmp" || exit $?
fi
mv -f "$job_submitted.tmp" "$job_submitted"
cat "$job_submitted"`;

export interface Submission {
  cloneUrl: string;
  repoDir: string;
  commitSha: string;
  workDir: string;
  jobDir: string;
  script: string;
}

export class CheckoutError extends SlurmError {}

/** A job array's tasks and their overrides. */
export interface ArraySubmission {
  /** sbatch's --array value: indexes and ranges, and the throttle (`0-99%8`, `3,7%2`). */
  array: string;
  /** Each task's overrides (argv words), by array index. */
  runs: ReadonlyMap<number, readonly string[]>;
}

const ARRAY_SPEC = /^\d+(-\d+)?(,\d+(-\d+)?)*%\d+$/;

/** The run list as the job script reads it: every index up to the largest, each task's words NUL-ended, then a NUL. */
export function runListText(runs: ReadonlyMap<number, readonly string[]>): string {
  const last = Math.max(-1, ...runs.keys());
  const parts: string[] = [];
  for (let index = 0; index <= last; index++) {
    for (const word of runs.get(index) ?? []) {
      // A NUL would end the word early and shift every later task's overrides.
      if (word === '' || word.includes('\0')) throw new SlurmError('sbatch', null, `task ${index} has an empty or NUL-holding override`);
      parts.push(word, '\0');
    }
    parts.push('\0');
  }
  return parts.join('');
}

export async function submitBatch(transport: Transport, submission: Submission, arrayTasks: ArraySubmission | null = null): Promise<string> {
  const { cloneUrl, repoDir, commitSha, workDir, jobDir, script } = submission;
  const scriptBytes = String(Buffer.byteLength(script, 'utf8'));
  const args = ['sh', '-c', SUBMIT_SCRIPT, 'sh', cloneUrl, repoDir, commitSha, workDir, jobDir, scriptBytes];
  let stdin = script;
  if (arrayTasks) {
    if (!ARRAY_SPEC.test(arrayTasks.array)) throw new SlurmError('sbatch', null, `not an --array value: ${JSON.stringify(arrayTasks.array.slice(0, 80))}`);
    const runList = runListText(arrayTasks.runs);
    args.push(arrayTasks.array, String(Buffer.byteLength(runList, 'utf8')));
    stdin = script + runList;
  }
  const result = await transport.exec(args, { kind: 'submit', stdin, timeoutMs: 300_000 });
  if (result.exitCode === CHECKOUT_FAILED) throw new CheckoutError('git checkout', result.exitCode, result.stderr);
  const slurmJobId = result.exitCode === 0 ? parseSbatchParsable(result.stdout) : null;
  if (!slurmJobId) throw new SlurmError('sbatch', result.exitCode, result.stderr || result.stdout);
  return slurmJobId;
}

// Where the `submitted` file is missing (the connection dropped while sbatch ran), the job's working directory,
// which holds its tag, is looked up in the queue and then in accounting. First it waits for the launch's lock: a
// submit script still running (its server gone) holds it until sbatch has answered. "Not submitted" is answered
// only when SLURM was asked and said so, and is made final with the "abandoned" mark (see SUBMIT_SCRIPT); a
// lookup SLURM did not answer fails, to be tried again.
const FIND_SCRIPT = `job_dir=$1 work_dir=$2
${jobPathsInShell()}
mkdir -p "$job_dir" && exec 8>"$job_submit_lock" || exit 1
flock 8 2>/dev/null
if [ -s "$job_submitted" ]; then cat "$job_submitted"; exit 0; fi
# A job array's tasks show as 123_4 or 123_[5-9%2]: its id is the part before the underscore.
ours() { awk -F'|' -v d="$work_dir" '$2 == d { sub(/_.*/, "", $1); print $1; found = 1 } END { exit !found }'; }
queue=$(squeue -h -t all -u "$(id -un)" -o '%i|%Z') || exit 1
printf '%s\n' "$queue" | ours && exit 0
accounting=$(sacct -X -n -P -S now-7days -u "$(id -un)" -o JobID,WorkDir 2>&1)
if [ $? -eq 0 ]; then
  printf '%s\n' "$accounting" | ours && exit 0
else
  case "$accounting" in *"accounting storage is disabled"*) ;; *) printf '%s\n' "$accounting" >&2; exit 1 ;; esac
fi
: > "$job_abandoned"
exit 0`;

/** The SLURM id of a launch whose sbatch outcome is unknown, or null when SLURM never got it. */
export async function findSubmission(transport: Transport, jobDir: string, workDir: string): Promise<string | null> {
  const result = await transport.exec(['sh', '-c', FIND_SCRIPT, 'sh', jobDir, workDir], { kind: 'find-submission' });
  if (result.exitCode !== 0) throw new SlurmError('find submission', result.exitCode, result.stderr);
  return parseSbatchParsable(result.stdout.split('\n')[0] ?? '');
}

export async function cancelJob(transport: Transport, slurmJobId: string): Promise<void> {
  const result = await transport.exec(['scancel', '--', slurmJobId], { kind: 'cancel' });
  if (result.exitCode !== 0) throw new SlurmError('scancel', result.exitCode, result.stderr);
}

const TAIL_SCRIPT = `size=$(stat -c %s -- "$1" 2>/dev/null) || { echo missing; exit 0; }
echo "$size"
tail -c "$2" -- "$1"`;

export interface OutputTail {
  /** Size of the whole file; null when it does not exist (yet). */
  size: number | null;
  text: string;
  startsAtFileStart: boolean;
}

/** The last `maxBytes` of a file, never more: a 1 GB log must not be shipped whole. */
export async function readOutputTail(transport: Transport, path: string, maxBytes: number): Promise<OutputTail> {
  const result = await transport.exec(['sh', '-c', TAIL_SCRIPT, 'sh', path, String(maxBytes)], { kind: 'log-tail' });
  if (result.exitCode !== 0) throw new SlurmError('tail', result.exitCode, result.stderr);
  const newline = result.stdout.indexOf('\n');
  const header = result.stdout.slice(0, newline);
  if (header === 'missing') return { size: null, text: '', startsAtFileStart: true };
  const size = newline >= 0 && /^\d+$/.test(header) ? Number(header) : Number.NaN;
  // A size that is not one (stat missing, a login banner on stdout) would reach the API as NaN.
  if (!Number.isSafeInteger(size)) throw new SlurmError('tail', result.exitCode, `not a file size: ${JSON.stringify(result.stdout.slice(0, 120))}`);
  return { size, text: result.stdout.slice(newline + 1), startsAtFileStart: size <= maxBytes };
}

// The last screen of a log, cut on the cluster so that only what a reader will see crosses the wire. A progress
// bar rewrites one line with \r thousands of times; shown, that line is what follows its last \r. So each line is
// sent from its last \r on, where that drops nothing the server would show (below), and the script reads further
// back from the end, four times as much each round, until it has the lines asked for, the byte bound is full, or
// it has scanned the file's start or the scan bound.
//
// Its answer is "size from whole", then bytes O for which the server's trimPartialFirstLine + cleanLog (jobs/
// log-text.ts, the one definition of what is shown) give exactly what they give for the file's bytes [from, size)
// read whole (whole = 1: O stands for the file from its first byte; else O's first line is the partial one the server
// drops, sent as a bare "\n" or "\r"). The bytes [size-window, size) are read by offset from the size stat gave,
// so a file that grows meanwhile is read as it was; one that came back shorter (replaced, truncated) is read again.
//
// A line's \r at which it may be cut, given that the server strips ANSI before it collapses: no OSC-like string
// (ESC ] P X ^ _, which may run over a \r) is open there, and what follows it still shows a character after
// stripping. That is certain for a \r-separated segment free of those strings that keeps a character once CSI and
// other escape sequences (the server's two other patterns, rewritten for awk: leftmost-longest picks the same
// matches here) are removed, or that is followed by such a segment. Where it cannot be made certain, less is cut.
// awk runs with LC_ALL=C: lengths and cuts are in bytes, and a character cut by the window is never decoded there.
const SCREEN_AWK = String.raw`
BEGIN {
  cr = "\r"; esc = sprintf("%c", 27); bel = sprintf("%c", 7)
  escape = esc "([[][0-?]*[ -/]*[@-~]?|[ -/]*[0-~]?)"
  stringControl = esc "[]PX^_]"
  lastControl = "[" esc bel "][^" esc bel "]*$"
  for (i = 128; i < 192; i++) continuation = continuation sprintf("%c", i)
}
{ line[NR] = $0; got += length($0) + 1 }
function shows(segment) { gsub(escape, "", segment); return segment != "" }
function fromLastRedraw(text,    n, segment, open, j, k, c, certain, at) {
  if (index(text, cr) == 0) return text
  n = split(text, segment, cr)
  if (index(text, esc) == 0 && index(text, bel) == 0) {
    # Nothing is stripped: the cut is at the \r before the last segment that is not empty.
    for (k = n; k >= 2 && segment[k] == ""; k--);
  } else {
    open[1] = 0
    for (j = 1; j < n; j++) {
      open[j + 1] = open[j]
      if (match(segment[j], lastControl)) {
        c = substr(segment[j], RSTART + 1, 1)
        open[j + 1] = substr(segment[j], RSTART, 1) == esc && c != "" && index("]PX^_", c) > 0
      }
    }
    certain = 0
    for (k = n; k >= 2; k--) {
      if (match(segment[k], stringControl)) certain = 0
      else certain = certain || shows(segment[k])
      if (certain && !open[k]) break
    }
  }
  if (k < 2) return text
  at = 0
  for (j = 1; j < k; j++) at += length(segment[j]) + 1
  return substr(text, at)
}
function continuationBytes(text,    k, c) {
  for (k = 0; k < 3; k++) { c = substr(text, k + 1, 1); if (c == "" || index(continuation, c) == 0) break }
  return k
}
function rawEnd(text,    k) {
  text = substr(text, length(text) - max + 1); k = continuationBytes(text)
  printf "%.0f %.0f 0\n%s", size, size - length(text) + k, substr(text, k + 1)
  exit 0
}
END {
  if (got - 1 != want) exit 4
  if (base > 0 && NR == 1) {
    p = index(line[1], cr)
    if (p == 0) rawEnd(line[1])
    if (!final && lines > 1) exit 3
    out = cr fromLastRedraw(substr(line[1], p + 1))
    if (length(out) > max) rawEnd(line[1])
    printf "%.0f %.0f 0\n%s", size, base, out
    exit 0
  }
  first = base > 0 ? 2 : 1; bytes = 1; shown = 0; full = 0; s = NR + 1
  for (i = NR; i >= first; i--) {
    e = fromLastRedraw(line[i])
    if (bytes + length(e) + (i < NR) > max) { full = 1; break }
    bytes += length(e) + (i < NR); keep[i] = e; s = i
    if (i < NR || e != "") shown++
  }
  if (!final && !full && shown < lines) exit 3
  if (s > NR) rawEnd(line[NR])
  at = base - 1
  for (i = 1; i < s; i++) at += length(line[i]) + 1
  whole = s == 1 && base == 0
  printf "%.0f %.0f %d\n%s", size, whole ? 0 : at, whole, whole ? "" : "\n"
  for (i = s; i <= NR; i++) printf "%s%s", keep[i], i < NR ? "\n" : ""
}`;

const SCREEN_SCRIPT = `path=$1 max=$2 lines=$3 scan=$4
LC_ALL=C
export LC_ALL
tries=0
while :; do
  size=$(stat -c %s -- "$path" 2>/dev/null) || { echo missing; exit 0; }
  window=$max
  while :; do
    [ "$window" -gt "$size" ] && window=$size
    [ "$window" -gt "$scan" ] && window=$scan
    final=0
    { [ "$window" -ge "$size" ] || [ "$window" -ge "$scan" ]; } && final=1
    # The echo ends the last line, complete or not, so awk sees every byte as part of a line.
    { tail -c "+$((size - window + 1))" -- "$path" | head -c "$window"; echo; } |
      awk -v size="$size" -v base="$((size - window))" -v want="$window" -v max="$max" -v lines="$lines" -v final="$final" '${SCREEN_AWK}'
    status=$?
    [ "$status" -eq 3 ] || break
    window=$((window * 4))
  done
  [ "$status" -eq 4 ] || exit "$status"
  tries=$((tries + 1))
  [ "$tries" -lt 3 ] || { echo "$path: fewer bytes than its size, 3 times (replaced while read, or unreadable)" >&2; exit 1; }
done`;

export interface OutputScreen extends OutputTail {
  /** The byte of the file the text stands for from (see SCREEN_SCRIPT); 0 when the file is whole or missing. */
  fromByte: number;
}

/**
 * The end of a file as a screen shows it: at least `lines` lines where the last `scanBytes` of the file hold them,
 * in at most `maxBytes` bytes, progress-bar redraws cut on the cluster. The text is for trimPartialFirstLine
 * (with startsAtFileStart) and cleanLog, which give the same as for the file's bytes from `fromByte` on.
 */
export async function readOutputScreen(transport: Transport, path: string, bounds: { maxBytes: number; lines: number; scanBytes: number }): Promise<OutputScreen> {
  const argv = [path, bounds.maxBytes, Math.max(1, bounds.lines), Math.max(bounds.maxBytes, bounds.scanBytes)].map(String);
  const result = await transport.exec(['sh', '-c', SCREEN_SCRIPT, 'sh', ...argv], { kind: 'log-screen' });
  if (result.exitCode !== 0) throw new SlurmError('tail', result.exitCode, result.stderr);
  const newline = result.stdout.indexOf('\n');
  const header = result.stdout.slice(0, newline);
  if (header === 'missing') return { size: null, text: '', startsAtFileStart: true, fromByte: 0 };
  const fields = /^(\d+) (\d+) ([01])$/.exec(header);
  const [size, fromByte] = [Number(fields?.[1]), Number(fields?.[2])];
  // A header that is not one (a login banner on stdout, a cluster without stat) would reach the API as NaN.
  if (!fields || !Number.isSafeInteger(size) || !Number.isSafeInteger(fromByte)) throw new SlurmError('tail', result.exitCode, `not a file size: ${JSON.stringify(result.stdout.slice(0, 120))}`);
  return { size, text: result.stdout.slice(newline + 1), startsAtFileStart: fields[3] === '1', fromByte };
}

export async function readOutputHead(transport: Transport, path: string, maxBytes: number): Promise<string> {
  const result = await transport.exec(['head', '-c', String(maxBytes), '--', path], { kind: 'log-head' });
  return result.exitCode === 0 ? result.stdout : '';
}

// The bare repository a worktree belongs to is its git common dir; removing through git keeps the repository's
// worktree list clean for the next launch.
// The job could have rewritten its checkout's .git, so git runs here with the same care as for the checkout.
const REMOVE_CHECKOUT_SCRIPT = `work_dir=$1
${CLUSTER_GIT}
[ -e "$work_dir" ] || exit 0
repo=$(mc_git -C "$work_dir" rev-parse --path-format=absolute --git-common-dir 2>/dev/null) && mc_git -C "$repo" worktree remove --force -- "$work_dir" 2>/dev/null
rm -rf -- "$work_dir"`;

/** Frees the disk a finished job's checkout takes; its output and script stay. */
export async function removeCheckout(transport: Transport, workDir: string): Promise<void> {
  const result = await transport.exec(['sh', '-c', REMOVE_CHECKOUT_SCRIPT, 'sh', workDir], { kind: 'remove-checkout' });
  if (result.exitCode !== 0) throw new SlurmError('remove checkout', result.exitCode, result.stderr);
}
