// Hostile config files a repository can hold, shared by the unit tests (server/hydra/config.test.ts,
// server/project-settings.test.ts), the lab suite (test/lab/hostile-repo-files.test.ts) and the benchmark
// (bench/hostile-config.ts). Each case writes itself into a repository's working tree; files outside the repository
// hold SECRET, which no answer may ever contain.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

export const SECRET = 'mc-outside-secret-7f3a9c';

/** A directory outside every repository, holding YAML files (and a settings file) whose values are SECRET. */
export function createOutsideDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mc-outside-'));
  writeFileSync(join(dir, 'secret.yaml'), `secret: ${SECRET}\n`);
  writeFileSync(join(dir, 'config.yaml'), `secret: ${SECRET}\n`);
  writeFileSync(join(dir, '.mlops-config.yaml'), `python: ${SECRET}\n`);
  return dir;
}

export interface HostileCase {
  name: string;
  /** The file (relative to the repository) the refusal must name. */
  file: string;
  /** What the refusal must say (the limit, or why). */
  message: RegExp;
  /** Writes the case into the working tree at `root` (whose config files it replaces). */
  write(root: string, outside: string): void;
}

function put(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

function link(root: string, path: string, target: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  symlinkSync(target, join(root, path));
}

const OUTSIDE = /outside the repository/;

/** 10 levels of 10 aliases: 10^10 nodes once expanded. */
export const BILLION_LAUGHS = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]', ...Array.from({ length: 9 }, (_, index) => `a${index + 1}: &a${index + 1} [${Array(10).fill(`*a${index}`).join(', ')}]`), ''].join('\n');
/** 20,000 keys in about 180 kB (under the size limit: the key count is what is refused). */
export const TWENTY_THOUSAND_KEYS = Array.from({ length: 20_000 }, (_, index) => `k${index}: 0\n`).join('');
/** 5,000 nested flow lists. */
export const DEEP_NESTING = `deep: ${'['.repeat(5000)}${']'.repeat(5000)}\n`;
/** 100 nested block mappings: deeper than the limit, within what the parser itself follows. */
export const DEEP_BLOCKS = `${Array.from({ length: 100 }, (_, index) => `${'  '.repeat(index)}k${index}:`).join('\n')} 1\n`;
/** A valid config of about 300 KiB, over the per-file limit. */
export const OVERSIZED = `${'# padding padding padding padding padding padding padding padding padding padding\n'.repeat(3800)}x: 1\n`;

/** The primary `conf/config.yaml` selecting group `db`'s option `option`, with a harmless option beside it. */
const choosing = (option: string) => ({ 'conf/config.yaml': `defaults:\n  - db: ${option}\n  - _self_\nseed: 1\n`, 'conf/db/local.yaml': 'host: localhost\n' });

export const HOSTILE_HYDRA_CASES: HostileCase[] = [
  {
    name: 'a group option that is a symlink to a file outside the repository',
    file: 'conf/db/link.yaml',
    message: OUTSIDE,
    write: (root, outside) => {
      put(root, choosing('link'));
      link(root, 'conf/db/link.yaml', join(outside, 'secret.yaml'));
    },
  },
  {
    name: '".." in a defaults entry (group option)',
    file: 'conf/config.yaml',
    message: /"\.\."/,
    write: (root, outside) => put(root, choosing(relative(join(root, 'conf/db'), join(outside, 'secret')))),
  },
  {
    name: '".." in a defaults entry (config path)',
    file: 'conf/config.yaml',
    message: /"\.\."/,
    write: (root, outside) => put(root, { 'conf/config.yaml': `defaults:\n  - ${relative(join(root, 'conf'), join(outside, 'secret'))}\n  - _self_\n` }),
  },
  {
    name: 'a symlink to /dev/zero',
    file: 'conf/db/zero.yaml',
    message: OUTSIDE,
    write: (root) => {
      put(root, choosing('zero'));
      link(root, 'conf/db/zero.yaml', '/dev/zero');
    },
  },
  {
    name: 'a named pipe (FIFO)',
    file: 'conf/db/pipe.yaml',
    message: /named pipe/,
    write: (root) => {
      put(root, choosing('pipe'));
      execFileSync('mkfifo', [join(root, 'conf/db/pipe.yaml')]);
    },
  },
  { name: 'billion laughs', file: 'conf/config.yaml', message: /10,000 keys, values and list items/, write: (root) => put(root, { 'conf/config.yaml': BILLION_LAUGHS }) },
  { name: 'a file of 20,000 keys', file: 'conf/config.yaml', message: /10,000 keys, values and list items/, write: (root) => put(root, { 'conf/config.yaml': TWENTY_THOUSAND_KEYS }) },
  { name: '5,000 nested lists', file: 'conf/config.yaml', message: /64 levels/, write: (root) => put(root, { 'conf/config.yaml': DEEP_NESTING }) },
  { name: '100 nested mappings', file: 'conf/config.yaml', message: /64 levels/, write: (root) => put(root, { 'conf/config.yaml': DEEP_BLOCKS }) },
  { name: 'an oversized file', file: 'conf/config.yaml', message: /262,144 bytes/, write: (root) => put(root, { 'conf/config.yaml': OVERSIZED }) },
  {
    name: 'a group directory that is a symlink to a directory outside',
    file: 'conf/db/secret.yaml',
    message: OUTSIDE,
    write: (root, outside) => {
      put(root, { 'conf/config.yaml': 'defaults:\n  - db: secret\n  - _self_\n' });
      link(root, 'conf/db', outside);
    },
  },
  {
    // The options of a group are listed when the chosen one is missing: the listing must not read the outside directory.
    name: 'a group directory symlinked outside, listed',
    file: 'conf/db',
    message: OUTSIDE,
    write: (root, outside) => {
      put(root, { 'conf/config.yaml': 'defaults:\n  - db: missing\n  - _self_\n' });
      link(root, 'conf/db', outside);
    },
  },
  { name: 'a config directory that is a symlink outside', file: 'conf', message: OUTSIDE, write: (root, outside) => link(root, 'conf', outside) },
];

export const HOSTILE_SETTINGS_CASES: HostileCase[] = [
  { name: 'billion laughs', file: '.mlops-config.yaml', message: /10,000 keys, values and list items/, write: (root) => put(root, { '.mlops-config.yaml': `${BILLION_LAUGHS}` }) },
  { name: 'a symlink to /dev/zero', file: '.mlops-config.yaml', message: OUTSIDE, write: (root) => link(root, '.mlops-config.yaml', '/dev/zero') },
  { name: 'a symlink to a file outside', file: '.mlops-config.yaml', message: OUTSIDE, write: (root, outside) => link(root, '.mlops-config.yaml', join(outside, '.mlops-config.yaml')) },
  { name: 'a named pipe (FIFO)', file: '.mlops-config.yaml', message: /named pipe/, write: (root) => execFileSync('mkfifo', [join(root, '.mlops-config.yaml')]) },
  { name: 'an oversized file', file: '.mlops-config.yaml', message: /65,536 bytes/, write: (root) => put(root, { '.mlops-config.yaml': OVERSIZED }) },
  { name: '5,000 nested lists', file: '.mlops-config.yaml', message: /64 levels/, write: (root) => put(root, { '.mlops-config.yaml': DEEP_NESTING }) },
];

/** Removes what a case wrote (the config directories and the settings file), so the next case starts clean. */
export function clearConfigFiles(root: string): void {
  for (const path of ['conf', 'configs', 'config', '.mlops-config.yaml']) rmSync(join(root, path), { recursive: true, force: true });
}
