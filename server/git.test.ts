import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import { readRepo, sshFormOf } from './git.js';

const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-C', cwd, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { encoding: 'utf8' }).trim();

describe('sshFormOf', () => {
  it('turns HTTPS remotes into SSH and leaves the rest', () => {
    expect(sshFormOf('https://github.com/acme/resnet.git')).toBe('git@github.com:acme/resnet.git');
    expect(sshFormOf('https://token@gitlab.example.edu:8443/group/sub/proj')).toBe('git@gitlab.example.edu:group/sub/proj.git');
    expect(sshFormOf('git@github.com:acme/resnet.git')).toBe('git@github.com:acme/resnet.git');
    expect(sshFormOf('/srv/git/resnet.git')).toBe('/srv/git/resnet.git');
  });
});

describe('readRepo', () => {
  it('reads branch, head, dirty and pushed state of a real repository', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-git-'));
    const origin = join(dir, 'origin.git');
    const work = join(dir, 'resnet');
    execFileSync('git', ['init', '-q', '--bare', origin]);
    execFileSync('git', ['init', '-q', '-b', 'main', work]);
    writeFileSync(join(work, 'train.py'), 'print(1)\n');
    git(work, 'add', '.');
    git(work, 'commit', '-qm', 'First model');
    git(work, 'remote', 'add', 'origin', origin);

    let info = await readRepo(join(work));
    expect(info).toMatchObject({ root: work, name: 'resnet', originUrl: origin, cloneUrl: origin, branch: 'main', headSubject: 'First model', dirty: false, pushed: false });
    expect(info.headSha).toMatch(/^[0-9a-f]{40}$/);

    git(work, 'push', '-q', 'origin', 'main');
    git(work, 'fetch', '-q', 'origin');
    writeFileSync(join(work, 'train.py'), 'print(2)\n');
    writeFileSync(join(work, 'untracked.txt'), 'x');
    info = await readRepo(work);
    expect(info).toMatchObject({ dirty: true, pushed: true });

    git(work, 'checkout', '-q', '--detach');
    git(work, 'remote', 'set-url', 'origin', 'https://github.com/acme/resnet.git');
    info = await readRepo(work);
    expect(info).toMatchObject({ branch: null, originUrl: 'https://github.com/acme/resnet.git', cloneUrl: 'git@github.com:acme/resnet.git' });
  });

  it('refuses a directory that is not a repository, or one without commits, naming localPath', async () => {
    const plain = mkdtempSync(join(tmpdir(), 'mc-plain-'));
    await expect(readRepo(plain)).rejects.toThrow(ValidationError);
    await expect(readRepo(plain)).rejects.toThrow(/^localPath: .* is not inside a git repository/);
    const empty = mkdtempSync(join(tmpdir(), 'mc-empty-'));
    execFileSync('git', ['init', '-q', empty]);
    await expect(readRepo(empty)).rejects.toThrow(/has no commits yet/);
  });
});
