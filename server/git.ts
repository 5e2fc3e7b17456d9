// Reads a local git repository with the git CLI, always as argv (execFile), never through a shell.
import { execFile } from 'node:child_process';
import { basename } from 'node:path';
import { promisify } from 'node:util';
import { ValidationError } from './errors.js';

const run = promisify(execFile);

export interface RepoInfo {
  root: string;
  name: string;
  originUrl: string | null;
  /** What the cluster clones: an HTTPS origin turned into its SSH form, so cloning needs no password prompt. */
  cloneUrl: string | null;
  branch: string | null;
  headSha: string;
  headSubject: string;
  /** Tracked files differ from HEAD (untracked files do not count: they never reach the cluster either way). */
  dirty: boolean;
  /** Some remote-tracking branch contains HEAD, as far as the last fetch knows. */
  pushed: boolean;
}

async function git(cwd: string, args: string[], allowFailure = false): Promise<string | null> {
  try {
    const { stdout } = await run('git', ['-C', cwd, ...args], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
    return stdout.trim();
  } catch (error) {
    if (allowFailure) return null;
    throw error;
  }
}

/** https://host/org/repo(.git) → git@host:org/repo.git; other URLs (ssh, scp-like, file paths) stay as they are. */
export function sshFormOf(url: string): string {
  const match = /^https?:\/\/(?:[^@/]+@)?([^/:]+)(?::\d+)?\/(.+?)(?:\.git)?\/?$/.exec(url);
  return match ? `git@${match[1]}:${match[2]}.git` : url;
}

export async function readRepo(path: string): Promise<RepoInfo> {
  const root = await git(path, ['rev-parse', '--show-toplevel'], true);
  if (!root) throw new ValidationError('localPath', `${path} is not inside a git repository`);
  const headSha = await git(root, ['rev-parse', '--verify', '-q', 'HEAD'], true);
  if (!headSha) throw new ValidationError('localPath', `${root} has no commits yet`);
  const [headSubject, branch, originUrl, status, remoteBranches] = await Promise.all([
    git(root, ['log', '-1', '--format=%s', headSha]),
    git(root, ['symbolic-ref', '--short', '-q', 'HEAD'], true),
    git(root, ['remote', 'get-url', 'origin'], true),
    git(root, ['status', '--porcelain', '--untracked-files=no']),
    git(root, ['branch', '-r', '--contains', headSha], true),
  ]);
  return {
    root,
    name: basename(root),
    originUrl: originUrl || null,
    cloneUrl: originUrl ? sshFormOf(originUrl) : null,
    branch: branch || null,
    headSha,
    headSubject: headSubject ?? '',
    dirty: Boolean(status),
    pushed: Boolean(remoteBranches),
  };
}
