// Reads a local git repository with the git CLI, always as argv (execFile), never through a shell.
//
// A project directory is data the server must never execute: its .git/config (and what it includes) can name
// programs that git runs on its own (fsmonitor, hooks, filter and diff drivers, pagers, gpg, transports). Every git
// command therefore goes through runGit, which starts git with a clean environment and command-scope overrides
// that neutralise each such key, and only plumbing that reads (no fetch, no write to the repository).
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, realpath, rm, stat, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, sep } from 'node:path';
import { ValidationError } from '../errors.js';

export interface RepoInfo {
  root: string;
  /** Absolute. */
  gitDir: string;
  name: string;
  originUrl: string | null;
  /** What the cluster clones: an HTTPS origin turned into its SSH form, so cloning needs no password prompt. */
  cloneUrl: string | null;
  branch: string | null;
  headSha: string;
  headSubject: string;
  /** Tracked files differ from HEAD (untracked files do not count: they never reach the cluster either way). */
  dirty: boolean;
  /**
   * Tracked files whose content in the work tree is not HEAD's, relative to the root: what the form reads but a job
   * (which runs HEAD) does not get. Empty when only the index differs.
   */
  changedFiles: string[];
  /** Some remote-tracking branch contains HEAD, as far as the last fetch knows. */
  pushed: boolean;
}

/**
 * Config keys whose value git may run as a program, overridden at command scope (read after the repository's and
 * every file it includes, so they win). Most are not read by the commands readRepo runs; they are here so that a
 * command added later is covered too. An empty value switches a program off where git allows it (credential.helper
 * resets the list; an empty filter or diff driver command is skipped); elsewhere a harmless value is named.
 */
const HARDENED_CONFIG: ReadonlyArray<readonly [string, string]> = [
  ['core.fsmonitor', 'false'],
  // Not a directory: no hook can be found in it, whatever its name.
  ['core.hooksPath', '/dev/null'],
  ['core.sshCommand', 'false'],
  ['core.gitProxy', 'false'],
  ['core.pager', 'cat'],
  ['core.editor', 'false'],
  ['sequence.editor', 'false'],
  ['core.askPass', 'false'],
  ['core.alternateRefsCommand', ''],
  ['credential.helper', ''],
  ['diff.external', ''],
  ['gpg.program', 'false'],
  ['gpg.openpgp.program', 'false'],
  ['gpg.x509.program', 'false'],
  ['gpg.ssh.program', 'false'],
  ['gpg.ssh.defaultKeyCommand', 'false'],
  ['log.showSignature', 'false'],
  // Nothing here fetches: a lazy fetch of a partial clone's missing object, or anything else that would reach a
  // remote (whose URL can be `ext::<command>`), is refused before any transport starts.
  ['protocol.allow', 'never'],
  ['uploadpack.packObjectsHook', ''],
  ['gc.auto', '0'],
  ['maintenance.auto', 'false'],
  ['submodule.recurse', 'false'],
  // The dirty check refreshes a private copy of the index; a split index would write its shared part into the
  // repository's git directory.
  ['core.splitIndex', 'false'],
];

/** Keys under a name the repository chooses: each one found in its config is blanked (see driverOverrides). */
const DRIVER_KEY = /^(filter\..+\.(?:clean|smudge|process)|diff\..+\.(?:textconv|command))$/;
const REQUIRED_FILTER_KEY = /^filter\.(.+)\.required$/;

const GIT_TIMEOUT_MS = 30_000;

interface GitResult {
  /** As git printed it: a path may begin or end with spaces or hold a newline, so nothing is trimmed. */
  stdout: string;
  exitCode: number;
}

/** The one line a command printed about one thing (a path, a name), without its line end. */
const line = (stdout: string) => stdout.replace(/\n$/, '');

/**
 * The one way the server runs git. No GIT_* variable of ours reaches it (GIT_DIR, GIT_CONFIG_PARAMETERS, GIT_SSH…
 * would redirect or extend it); overrides travel as GIT_CONFIG_COUNT/KEY/VALUE, which take a key and a value
 * apart (`-c` splits at the first `=`, and a filter's name may contain one). No prompt, no pager, no optional lock
 * (git would otherwise rewrite the index while reading), stdin closed and a deadline (an include.path naming a FIFO
 * would wait forever). Exit codes are returned: for diff-index and diff-files, 1 is an answer.
 */
export async function runGit(cwd: string, args: string[], options: { overrides?: ReadonlyArray<readonly [string, string]>; env?: Record<string, string> } = {}): Promise<GitResult> {
  const overrides = [...HARDENED_CONFIG, ...(options.overrides ?? [])];
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.startsWith('GIT_')) env[key] = value;
  Object.assign(env, { GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0', GIT_PAGER: 'cat', GIT_CONFIG_COUNT: String(overrides.length), ...options.env });
  overrides.forEach(([key, value], index) => Object.assign(env, { [`GIT_CONFIG_KEY_${index}`]: key, [`GIT_CONFIG_VALUE_${index}`]: value }));
  return new Promise((resolve, reject) => {
    const child = execFile('git', ['--no-pager', '--no-optional-locks', '-C', cwd, ...args], { encoding: 'utf8', env, maxBuffer: 16 * 1024 * 1024, timeout: GIT_TIMEOUT_MS, killSignal: 'SIGKILL' }, (error, stdout) => {
      if (error && typeof error.code !== 'number') reject(error);
      else resolve({ stdout, exitCode: error ? Number(error.code) : 0 });
    });
    child.stdin?.end();
  });
}

/**
 * Filter and diff drivers are named by the repository (`filter.<any name>.clean`), so they cannot be listed ahead:
 * they are read from the effective config (reading config runs nothing) and each is blanked. git skips a driver
 * whose command is empty (convert.c apply_filter: `cmd && *cmd`), and a `required` filter that is skipped would
 * make git refuse the file, so required is turned off too.
 */
async function driverOverrides(root: string): Promise<Array<[string, string]>> {
  const listed = await runGit(root, ['config', '-z', '--name-only', '--get-regexp', '^(filter|diff)\\.']);
  if (listed.exitCode > 1) throw new Error(`git config failed in ${root} (exit ${listed.exitCode})`);
  const overrides: Array<[string, string]> = [];
  for (const key of new Set(listed.stdout.split('\0').filter(Boolean))) {
    if (DRIVER_KEY.test(key)) overrides.push([key, '']);
    const required = REQUIRED_FILTER_KEY.exec(key);
    if (required) overrides.push([key, 'false']);
  }
  return overrides;
}

/** https://host/org/repo(.git) → git@host:org/repo.git; other URLs (ssh, scp-like, file paths) stay as they are. */
export function sshFormOf(url: string): string {
  const match = /^https?:\/\/(?:[^@/]+@)?([^/:]+)(?::\d+)?\/(.+?)(?:\.git)?\/?$/.exec(url);
  return match ? `git@${match[1]}:${match[2]}.git` : url;
}

// What a cluster may be asked to clone. git runs a program for `<transport>::<address>` (ext:: runs any command,
// fd:: and others start a remote helper), for any `<scheme>://` it has no built-in transport for (git-remote-<scheme>),
// and passes a host or user that starts with `-` to ssh, which reads it as an option. Only git's own transports
// are allowed: ssh (three spellings), git, http(s) (turned into ssh form before cloning), file, scp-like
// `[user@]host:path`, and local paths.
const URL_SCHEMES = new Set(['ssh', 'git+ssh', 'ssh+git', 'git', 'http', 'https', 'file']);
const HOST = String.raw`(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_~][A-Za-z0-9._~%-]*)`;
const SCHEME_URL = new RegExp(String.raw`^([A-Za-z][A-Za-z0-9+.-]*)://(?:([^@/]*)@)?(${HOST})?(?::\d*)?(/.*)?$`);
const SCP_LIKE = new RegExp(String.raw`^(?:([^@/:]+)@)?(${HOST}):(.*)$`);

/** Refuses (naming `origin`) a remote URL whose clone would run a program rather than fetch over git's transports. */
export function checkCloneUrl(url: string): void {
  const refuse = (why: string): never => {
    throw new ValidationError('origin', `${JSON.stringify(url)} ${why}; use an ssh, https, git or file URL, user@host:path, or a path`);
  };
  if (/[\u0000-\u001f\u007f]/.test(url)) refuse('contains a control character');
  if (url.startsWith('-')) refuse('starts with "-" (git and ssh would read it as an option)');
  if (/^[A-Za-z0-9][A-Za-z0-9+.-]*::/.test(url)) refuse('names a remote helper (<transport>::), which runs a program');
  const scheme = SCHEME_URL.exec(url);
  if (url.includes('://')) {
    if (!scheme || !URL_SCHEMES.has(scheme[1]!.toLowerCase())) refuse('is not a URL of a transport git has built in');
    const [, name, user, host] = scheme!;
    if (name!.toLowerCase() !== 'file' && !host) refuse('has no host');
    if (user?.startsWith('-')) refuse('has a user name that starts with "-"');
    return;
  }
  // git reads `x:y` as scp-like (ssh) when the colon comes before any slash; otherwise the URL is a local path.
  const colon = url.indexOf(':');
  const slash = url.indexOf('/');
  if (colon >= 0 && (slash < 0 || colon < slash)) {
    const scp = SCP_LIKE.exec(url);
    if (!scp) refuse('is not a user@host:path address');
    if (scp![1]?.startsWith('-')) refuse('has a user name that starts with "-"');
  }
}

const isWithin = (path: string, root: string) => path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);

/** Toplevel and git directory of the repository holding `path`, or null when there is none. */
async function locate(path: string): Promise<{ root: string; gitDir: string } | null> {
  // One question per call: rev-parse has no -z, and a directory name may hold a newline.
  const [root, gitDir] = await Promise.all([runGit(path, ['rev-parse', '--show-toplevel']), runGit(path, ['rev-parse', '--absolute-git-dir'])]);
  return root.exitCode === 0 && gitDir.exitCode === 0 ? { root: line(root.stdout), gitDir: line(gitDir.stdout) } : null;
}

/**
 * The repository must be the one at the path the user gave: core.worktree (or a .git file naming a git directory
 * that sets it) can make git report any directory as the toplevel, and everything read afterwards (settings, the
 * Hydra config) would come from there. So the toplevel must hold the given path, and git looking from the toplevel
 * must find the same git directory and the same toplevel again.
 */
async function checkToplevel(path: string, found: { root: string; gitDir: string }): Promise<void> {
  const given = await realpath(path);
  const again = isWithin(given, found.root) ? await locate(found.root) : null;
  if (!again || again.root !== found.root || again.gitDir !== found.gitDir) {
    throw new ValidationError('localPath', `${path} belongs to a git directory (${found.gitDir}) whose work tree is elsewhere (${found.root}); add the repository's own directory`);
  }
}

/**
 * Whether tracked files differ from HEAD, as `git status --untracked-files=no` would say, and which ones differ in
 * the work tree, read with plumbing: the index is refreshed (a file touched but unchanged is clean) in a private
 * copy, so the repository is never written, then compared with HEAD (staged), with the work tree (unstaged), and HEAD
 * with the work tree (the names). Submodules count when their commit moved, not for their own uncommitted changes,
 * which would need git to run inside them under their own config.
 */
async function readChanges(root: string, gitDir: string, overrides: Array<[string, string]>): Promise<{ dirty: boolean; changedFiles: string[] }> {
  // The index of a linked worktree is in its own git directory too; GIT_INDEX_FILE, which could move it, is dropped.
  const indexPath = join(gitDir, 'index');
  const scratch = await mkdtemp(join(tmpdir(), 'mc-index-'));
  try {
    const index = join(scratch, 'index');
    const original = await stat(indexPath).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    if (original) {
      await copyFile(indexPath, index);
      // git trusts the stat of an entry only when it is older than the index file (a file changed in the same
      // second as the index was written is "racily clean" and is compared by content); a fresh copy would look
      // newer and hide such a change. Its time is rounded down: more entries compared by content, never fewer.
      const seconds = Math.floor(original.mtimeMs / 1000);
      await utimes(index, seconds, seconds);
    }
    const options = { overrides, env: { GIT_INDEX_FILE: index } };
    await runGit(root, ['update-index', '-q', '--ignore-submodules', '--refresh'], options);
    const [staged, unstaged, names] = await Promise.all([
      runGit(root, ['diff-index', '--cached', '--quiet', '--ignore-submodules=dirty', 'HEAD', '--'], options),
      runGit(root, ['diff-files', '--quiet', '--ignore-submodules=dirty'], options),
      // diff, not diff-index: a file whose stat changed is compared by content, so a staged change put back in the
      // work tree is not named. -z: a path may hold a newline or a quote, which git would otherwise quote.
      runGit(root, ['diff', '--name-only', '-z', '--no-ext-diff', '--no-textconv', '--no-renames', '--ignore-submodules=dirty', 'HEAD', '--'], options),
    ]);
    for (const result of [staged, unstaged]) if (result.exitCode > 1) throw new Error(`git diff failed in ${root} (exit ${result.exitCode})`);
    if (names.exitCode !== 0) throw new Error(`git diff failed in ${root} (exit ${names.exitCode})`);
    return { dirty: staged.exitCode === 1 || unstaged.exitCode === 1, changedFiles: names.stdout.split('\0').filter(Boolean) };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

export async function readRepo(path: string): Promise<RepoInfo> {
  const found = await locate(path);
  if (!found) throw new ValidationError('localPath', `${path} is not inside a git repository`);
  const { root } = found;
  // Reading the config runs nothing, so it need not wait for the toplevel check.
  const [overrides] = await Promise.all([driverOverrides(root), checkToplevel(path, found)]);
  const git = async (args: string[]) => {
    const result = await runGit(root, args, { overrides });
    return result.exitCode === 0 ? line(result.stdout) : null;
  };
  const headSha = await git(['rev-parse', '--verify', '-q', 'HEAD^{commit}']);
  if (!headSha) throw new ValidationError('localPath', `${root} has no commits yet`);
  const [headSubject, branch, originUrl, changes, remoteBranch] = await Promise.all([
    git(['rev-list', '--max-count=1', '--no-commit-header', '--format=%s', headSha]),
    git(['symbolic-ref', '--short', '-q', 'HEAD']),
    // get-url applies the user's url.<base>.insteadOf, as a fetch from this directory would.
    git(['remote', 'get-url', 'origin']),
    readChanges(root, found.gitDir, overrides),
    git(['for-each-ref', '--count=1', '--format=%(refname)', '--contains', headSha, 'refs/remotes/']),
  ]);
  const cloneUrl = originUrl ? sshFormOf(originUrl) : null;
  if (originUrl) checkCloneUrl(originUrl);
  if (cloneUrl) checkCloneUrl(cloneUrl);
  return {
    root,
    gitDir: found.gitDir,
    name: basename(root),
    originUrl: originUrl || null,
    cloneUrl,
    branch: branch || null,
    headSha,
    headSubject: headSubject ?? '',
    ...changes,
    pushed: Boolean(remoteBranch),
  };
}

/**
 * What changes when readRepo's HEAD, branch, origin or index would: the stat of HEAD, the ref it names, packed-refs, the
 * index and the config of `gitDir`, and of the `alsoWatched` files (absolute), without starting git. Null when it cannot
 * be taken. Other edits in the work tree and fetches do not show here (they only change the dirty and pushed warnings).
 */
export async function repoFingerprint(gitDir: string, alsoWatched: string[] = []): Promise<string | null> {
  try {
    const head = await readFile(join(gitDir, 'HEAD'), 'utf8');
    const ref = /^ref: (refs\/[^\n]+)\n?$/.exec(head)?.[1];
    const files = ['HEAD', 'packed-refs', 'index', 'config', ...(ref && !ref.split('/').includes('..') ? [ref] : [])].map((file) => join(gitDir, file));
    const stats = await Promise.all([...files, ...alsoWatched].map((file) => stat(file).then((info) => `${info.ino}:${info.size}:${info.mtimeMs}`, () => '-')));
    return `${head}\0${stats.join('\0')}`;
  } catch {
    return null;
  }
}
