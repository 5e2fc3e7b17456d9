// A fixture project (test/fixtures/ml-project by default) as a real git repository with an "origin" the lab user can
// clone, the way a researcher's checkout and its remote look.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The origin belongs to the lab user (git refuses to serve a repository owned by someone else), so our pushes
// into it need safe.directory, which git reads only from global or system config.
const globalConfig = join(mkdtempSync(join(tmpdir(), 'mc-gitconfig-')), 'gitconfig');
writeFileSync(globalConfig, '[safe]\n\tdirectory = *\n[user]\n\tname = Test\n\temail = test@mc.local\n');
const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-C', cwd, ...args], { encoding: 'utf8', env: { ...process.env, GIT_CONFIG_GLOBAL: globalConfig } }).trim();

export interface FixtureRepo {
  work: string;
  origin: string;
  /** Commits the given files (path → content) and pushes; returns the new HEAD. */
  commit(message: string, files: Record<string, string>, options?: { push?: boolean }): string;
}

/** Directory names of the working tree and of its origin (the hostile-input suite gives them shell syntax). */
export interface FixtureRepoNames {
  work?: string;
  origin?: string;
  /** The project of test/fixtures/ to copy: ml-project unless a suite needs another (the real-Hydra apps). */
  fixture?: string;
}

export function createFixtureRepo(labUser: string, names: FixtureRepoNames = {}): FixtureRepo {
  // Under /var/tmp with open permissions: the lab user reads the origin from the same machine.
  const dir = mkdtempSync('/var/tmp/mc-fixture-');
  chmodSync(dir, 0o755);
  const fixture = names.fixture ?? 'ml-project';
  const work = join(dir, names.work ?? fixture);
  const origin = join(dir, names.origin ?? 'origin.git');
  cpSync(new URL(`../fixtures/${fixture}`, import.meta.url), work, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main', work);
  git(work, 'add', '-A');
  git(work, 'commit', '-qm', 'Fixture project');
  git(dir, 'init', '-q', '--bare', origin);
  git(work, 'remote', 'add', 'origin', origin);
  git(work, 'push', '-q', '-u', 'origin', 'main');
  // The lab user clones it; git refuses repositories owned by someone else.
  execFileSync('chown', ['-R', labUser, origin]);
  return {
    work,
    origin,
    commit(message, files, { push = true } = {}) {
      for (const [path, content] of Object.entries(files)) writeFileSync(join(work, path), content);
      git(work, 'add', '-A');
      git(work, 'commit', '-qm', message);
      if (push) git(work, 'push', '-q', 'origin', 'main');
      return git(work, 'rev-parse', 'HEAD');
    },
  };
}
