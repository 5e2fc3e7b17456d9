import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.js';
import { checkCloneUrl, readRepo, sshFormOf } from './git.js';

const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-C', cwd, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { encoding: 'utf8' }).trim();

describe('sshFormOf', () => {
  it('turns HTTPS remotes into SSH and leaves the rest', () => {
    expect(sshFormOf('https://github.com/acme/resnet.git')).toBe('git@github.com:acme/resnet.git');
    expect(sshFormOf('https://token@gitlab.example.edu:8443/group/sub/proj')).toBe('git@gitlab.example.edu:group/sub/proj.git');
    expect(sshFormOf('git@github.com:acme/resnet.git')).toBe('git@github.com:acme/resnet.git');
    expect(sshFormOf('/srv/git/resnet.git')).toBe('/srv/git/resnet.git');
  });
});

describe('checkCloneUrl', () => {
  it("accepts git's own transports and refuses what would run a program, naming origin", () => {
    for (const url of [
      'git@github.com:acme/resnet.git', 'github.com:acme/resnet', 'ssh://git@github.com/acme/resnet.git', 'ssh://git@[::1]:2222/srv/r.git',
      'git+ssh://host/r.git', 'ssh+git://host/r.git', 'https://github.com/acme/resnet.git', 'https://user:token@gitlab.example.edu:8443/g/p',
      'http://git.internal/r', 'git://host/r.git', 'file:///srv/git/r.git', '/srv/git/resnet.git', '../origin.git', 'relative/dir:with-colon',
    ]) expect(() => checkCloneUrl(url), url).not.toThrow();
    for (const url of [
      'ext::sh -c touch% /tmp/x', 'fd::3', 'transport::address', 'EXT::sh', 'evil://host/r', 'ftp://host/r', '-oProxyCommand=x:r',
      '--upload-pack=touch /tmp/x', 'ssh://-oProxyCommand=x/r', 'ssh://-u@host/r', '-u@host:r', 'https://', 'a\nb', 'host:r\u0007',
      'ssh://host/r\u0000x', 'host name:r', 'https://host/r\r\nx',
    ]) {
      expect(() => checkCloneUrl(url), url).toThrow(ValidationError);
      expect(() => checkCloneUrl(url), url).toThrow(/^origin: /);
    }
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

  it('reads the dirty state as git status does, without writing to the repository', async () => {
    const work = join(mkdtempSync(join(tmpdir(), 'mc-git-')), 'resnet');
    execFileSync('git', ['init', '-q', '-b', 'main', work]);
    writeFileSync(join(work, 'train.py'), 'print(1)\n');
    mkdirSync(join(work, 'conf'));
    writeFileSync(join(work, 'conf', 'train.yaml'), 'lr: 0.1\n');
    git(work, 'add', '.');
    git(work, 'commit', '-qm', 'First model');
    const index = join(work, '.git', 'index');
    const before = { bytes: readFileSync(index), mtimeMs: statSync(index).mtimeMs };

    // Touched but unchanged is clean; read from a subdirectory, the root is the repository's.
    const later = new Date(Date.now() + 5_000);
    utimesSync(join(work, 'train.py'), later, later);
    expect(await readRepo(join(work, 'conf'))).toMatchObject({ root: work, dirty: false });
    expect(readFileSync(index).equals(before.bytes)).toBe(true);
    expect(statSync(index).mtimeMs).toBe(before.mtimeMs);

    // Staged only, then unstaged only.
    writeFileSync(join(work, 'conf', 'train.yaml'), 'lr: 0.2\n');
    git(work, 'add', 'conf/train.yaml');
    writeFileSync(join(work, 'conf', 'train.yaml'), 'lr: 0.1\n');
    expect(await readRepo(work)).toMatchObject({ dirty: true });
    git(work, 'reset', '-q');
    expect(await readRepo(work)).toMatchObject({ dirty: false });
    rmSync(join(work, 'train.py'));
    expect(await readRepo(work)).toMatchObject({ dirty: true });

    // A linked worktree has its own index, in its own git directory.
    const linked = join(dirname(work), 'linked');
    git(work, 'worktree', 'add', '-q', '-b', 'side', linked);
    expect(await readRepo(linked)).toMatchObject({ root: linked, branch: 'side', dirty: false });
    writeFileSync(join(linked, 'train.py'), 'print(3)\n');
    expect(await readRepo(linked)).toMatchObject({ dirty: true });
  });

  it('names the tracked files whose work-tree content is not HEAD\'s, whatever their names hold', async () => {
    const work = join(mkdtempSync(join(tmpdir(), 'mc-git-')), 'resnet');
    execFileSync('git', ['init', '-q', '-b', 'main', work]);
    const odd = 'conf/a "quoted"\nname.yaml';
    mkdirSync(join(work, 'conf'));
    for (const file of ['train.py', 'conf/train.yaml', odd, 'README.md']) writeFileSync(join(work, file), 'v1\n');
    git(work, 'add', '.');
    git(work, 'commit', '-qm', 'First model');
    expect(await readRepo(work)).toMatchObject({ dirty: false, changedFiles: [] });

    writeFileSync(join(work, odd), 'v2\n');
    rmSync(join(work, 'train.py'));
    // Staged, and the work tree matches the index.
    writeFileSync(join(work, 'conf/train.yaml'), 'v2\n');
    git(work, 'add', 'conf/train.yaml');
    // Untracked files never reach the cluster: not named.
    writeFileSync(join(work, 'notes.txt'), 'x\n');
    expect(await readRepo(work)).toMatchObject({ dirty: true, changedFiles: [odd, 'conf/train.yaml', 'train.py'] });

    // Staged, then put back in the work tree: dirty for git status, yet the work tree is HEAD's.
    git(work, 'checkout', '-q', 'HEAD', '--', 'train.py', odd);
    writeFileSync(join(work, 'conf/train.yaml'), 'v1\n');
    expect(await readRepo(work)).toMatchObject({ dirty: true, changedFiles: [] });
  });

  // A change of the same size in the same second as the index was written leaves the file's stat as the index has
  // it: only git's "racily clean" rule, which compares with the index file's own time, finds it.
  it('finds a same-size change made in the same second as the index', async () => {
    for (let attempt = 0; ; attempt++) {
      const work = join(mkdtempSync(join(tmpdir(), 'mc-git-racy-')), 'resnet');
      execFileSync('git', ['init', '-q', '-b', 'main', work]);
      writeFileSync(join(work, 'train.py'), 'print(1)\n');
      git(work, 'add', '.');
      git(work, 'commit', '-qm', 'First model');
      writeFileSync(join(work, 'train.py'), 'print(2)\n');
      const second = (ms: number) => Math.floor(ms / 1000);
      if (second(statSync(join(work, 'train.py')).ctimeMs) !== second(statSync(join(work, '.git', 'index')).mtimeMs) && attempt < 20) continue;
      // Read in a later second: a copy of the index made now would be newer than the change.
      await new Promise((resolve) => setTimeout(resolve, 1_100 - (Date.now() % 1000)));
      expect(await readRepo(work)).toMatchObject({ dirty: true });
      return;
    }
  });

  it('reads a repository whose directory name has spaces at its ends, a newline and shell syntax', async () => {
    const work = join(mkdtempSync(join(tmpdir(), 'mc-git-')), ' ml $(x) ;\n\'q\' ');
    execFileSync('git', ['init', '-q', '-b', 'main', work]);
    writeFileSync(join(work, 'train.py'), 'print(1)\n');
    git(work, 'add', '.');
    git(work, 'commit', '-qm', 'First model');
    expect(await readRepo(work)).toMatchObject({ root: work, name: basename(work), branch: 'main', headSubject: 'First model', dirty: false });
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

// A project directory is data, never code: whatever its own configuration says, reading it must run no program.
// Each case below arms one way git can be told to run a command, each pointing at its own canary file; the work
// tree is then made dirty (a changed file, a file whose stat changed but not its content, an untracked file) so
// that the dirty check really looks at it, and readRepo must leave every canary absent.
describe('readRepo on hostile repositories', () => {
  const base = mkdtempSync(join(tmpdir(), 'mc-git-hostile-'));
  const canaryDir = join(base, 'canaries');
  mkdirSync(canaryDir);
  const HOOKS = [
    'applypatch-msg', 'pre-applypatch', 'post-applypatch', 'pre-commit', 'pre-merge-commit', 'prepare-commit-msg', 'commit-msg',
    'post-commit', 'pre-rebase', 'post-checkout', 'post-merge', 'pre-push', 'pre-receive', 'update', 'proc-receive', 'post-receive',
    'post-update', 'reference-transaction', 'push-to-checkout', 'pre-auto-gc', 'post-rewrite', 'sendemail-validate',
    'fsmonitor-watchman', 'p4-changelist', 'p4-prepare-changelist', 'p4-post-changelist', 'p4-pre-submit', 'post-index-change',
  ];
  const hooksDir = (canary: string) => {
    const dir = mkdtempSync(join(base, 'hooks-'));
    for (const hook of HOOKS) {
      writeFileSync(join(dir, hook), `#!/bin/sh\ntouch '${canary}'\nexit 1\n`);
      chmodSync(join(dir, hook), 0o755);
    }
    return dir;
  };
  const config = (work: string, key: string, value: string) => git(work, 'config', '--add', key, value);
  const configFile = (canary: string) => {
    const file = join(mkdtempSync(join(base, 'include-')), 'config');
    writeFileSync(file, `[core]\n\tfsmonitor = touch '${canary}'; false\n[filter "inc"]\n\tclean = touch '${canary}'; cat\n\trequired = true\n`);
    writeFileSync(join(dirname(file), '.gitattributes'), '');
    return file;
  };
  const attributes = (work: string, line: string) => writeFileSync(join(work, '.git', 'info', 'attributes'), `${line}\n`);

  interface HostileCase {
    arm(work: string, canary: string): void;
    /** The field a refusal names; undefined when the repository must be read as usual. */
    refused?: 'localPath' | 'origin';
  }
  const CASES: Record<string, HostileCase> = {
    'core.fsmonitor': { arm: (work, canary) => config(work, 'core.fsmonitor', `touch '${canary}'; false`) },
    'core.fsmonitor as a hook version 1 path': {
      arm: (work, canary) => {
        const hook = join(hooksDir(canary), 'fsmonitor-watchman');
        config(work, 'core.fsmonitor', hook);
        config(work, 'core.fsmonitorHookVersion', '1');
      },
    },
    'core.hooksPath with every hook': { arm: (work, canary) => config(work, 'core.hooksPath', hooksDir(canary)) },
    'every hook in .git/hooks': { arm: (work, canary) => cpSync(hooksDir(canary), join(work, '.git', 'hooks'), { recursive: true }) },
    'core.sshCommand with an ssh origin': {
      arm: (work, canary) => {
        config(work, 'core.sshCommand', `touch '${canary}'; false`);
        config(work, 'remote.origin.url', 'ssh://git@example.invalid/x.git');
      },
    },
    'diff.external': { arm: (work, canary) => config(work, 'diff.external', `touch '${canary}'; false`) },
    'filter clean/smudge/process on every file': {
      arm: (work, canary) => {
        attributes(work, '* filter=x');
        config(work, 'filter.x.clean', `touch '${canary}'; cat`);
        config(work, 'filter.x.smudge', `touch '${canary}'; cat`);
        config(work, 'filter.x.required', 'true');
      },
    },
    'filter process on every file': {
      arm: (work, canary) => {
        attributes(work, '* filter=x');
        config(work, 'filter.x.process', `touch '${canary}'; false`);
      },
    },
    'filter whose name has dots, spaces and =': {
      arm: (work, canary) => {
        attributes(work, '* filter=a.b=c');
        writeFileSync(join(work, '.git', 'config'), `${readFileSync(join(work, '.git', 'config'), 'utf8')}[filter "a.b=c"]\n\tclean = touch '${canary}'; cat\n\trequired = true\n`);
      },
    },
    'filter named in a committed .gitattributes': {
      arm: (work, canary) => {
        writeFileSync(join(work, '.gitattributes'), '*.py filter=y\n');
        git(work, 'add', '.gitattributes');
        git(work, 'commit', '-qm', 'attributes');
        config(work, 'filter.y.clean', `touch '${canary}'; cat`);
      },
    },
    'diff textconv and command drivers': {
      arm: (work, canary) => {
        attributes(work, '* diff=x');
        config(work, 'diff.x.textconv', `touch '${canary}'; cat`);
        config(work, 'diff.x.command', `touch '${canary}'; false`);
      },
    },
    'log.showSignature with gpg programs on a signed HEAD': {
      arm: (work, canary) => {
        const commit = git(work, 'cat-file', 'commit', 'HEAD').replace(/^(committer .*)$/m, '$1\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----');
        const signed = execFileSync('git', ['-C', work, 'hash-object', '-t', 'commit', '-w', '--stdin'], { input: `${commit}\n`, encoding: 'utf8' }).trim();
        git(work, 'update-ref', 'HEAD', signed);
        config(work, 'log.showSignature', 'true');
        for (const key of ['gpg.program', 'gpg.openpgp.program', 'gpg.x509.program', 'gpg.ssh.program']) config(work, key, join(hooksDir(canary), 'pre-commit'));
      },
    },
    'credential.helper': {
      arm: (work, canary) => {
        config(work, 'credential.helper', `!touch '${canary}'; false`);
        config(work, 'credential.https://example.invalid.helper', `!touch '${canary}'; false`);
      },
    },
    'core.pager and pager.*': {
      arm: (work, canary) => {
        for (const key of ['core.pager', 'pager.log', 'pager.status', 'pager.branch', 'pager.show']) config(work, key, `touch '${canary}'; cat`);
      },
    },
    'editors, askpass, proxy, alternate refs, upload-pack': {
      arm: (work, canary) => {
        const command = `touch '${canary}'; false`;
        for (const key of ['core.editor', 'sequence.editor', 'core.askPass', 'core.gitProxy', 'core.alternateRefsCommand', 'uploadpack.packObjectsHook', 'remote.origin.uploadpack', 'remote.origin.receivepack', 'gpg.ssh.defaultKeyCommand']) config(work, key, command);
        config(work, 'remote.origin.url', '/nonexistent/origin.git');
        config(work, 'remote.origin.fetch', '+refs/heads/*:refs/remotes/origin/*');
      },
    },
    'alias over the commands git runs': {
      arm: (work, canary) => {
        for (const name of ['status', 'log', 'branch', 'rev-parse', 'remote', 'symbolic-ref', 'config', 'diff-files', 'diff-index', 'for-each-ref', 'rev-list', 'update-index']) config(work, `alias.${name}`, `!touch '${canary}'`);
      },
    },
    'gc.auto with a pre-auto-gc hook': {
      arm: (work, canary) => {
        config(work, 'gc.auto', '1');
        config(work, 'core.hooksPath', hooksDir(canary));
      },
    },
    'include.path to a file with dangerous keys': {
      arm: (work, canary) => {
        attributes(work, '* filter=inc');
        config(work, 'include.path', configFile(canary));
      },
    },
    'includeIf gitdir to a file with dangerous keys': {
      arm: (work, canary) => {
        attributes(work, '* filter=inc');
        config(work, 'includeIf.gitdir:/.path', configFile(canary));
      },
    },
    'a dirty submodule with its own fsmonitor': {
      arm: (work, canary) => {
        const sub = join(work, 'sub');
        execFileSync('git', ['init', '-q', sub]);
        writeFileSync(join(sub, 'lib.py'), 'x = 1\n');
        git(sub, 'add', '.');
        git(sub, 'commit', '-qm', 'sub');
        git(work, 'add', 'sub');
        git(work, 'commit', '-qm', 'with submodule');
        config(sub, 'core.fsmonitor', `touch '${canary}'; false`);
        writeFileSync(join(sub, 'lib.py'), 'x = 2\n');
      },
    },
    'core.worktree pointing at /etc': { arm: (work) => config(work, 'core.worktree', '/etc'), refused: 'localPath' },
    'core.worktree pointing at /': { arm: (work) => config(work, 'core.worktree', '/'), refused: 'localPath' },
    // Relative to the git directory: `..` is the work tree itself, `../..` its parent.
    'core.worktree pointing at the parent directory': { arm: (work) => config(work, 'core.worktree', '../..'), refused: 'localPath' },
    'core.worktree pointing at another repository': {
      arm: (work) => {
        const other = join(mkdtempSync(join(base, 'other-')), 'other');
        execFileSync('git', ['init', '-q', other]);
        writeFileSync(join(other, 'secret.txt'), 'x');
        git(other, 'add', '.');
        git(other, 'commit', '-qm', 'Someone else');
        config(work, 'core.worktree', other);
      },
      refused: 'localPath',
    },
    'a .git file naming a repository whose worktree is /etc': {
      arm: (work) => {
        const elsewhere = join(mkdtempSync(join(base, 'elsewhere-')), 'repo.git');
        renameSync(join(work, '.git'), elsewhere);
        git(elsewhere, 'config', 'core.worktree', '/etc');
        writeFileSync(join(work, '.git'), `gitdir: ${elsewhere}\n`);
      },
      refused: 'localPath',
    },
    'an ext:: origin with protocol.ext.allow': {
      arm: (work, canary) => {
        config(work, 'protocol.ext.allow', 'always');
        config(work, 'protocol.allow', 'always');
        config(work, 'remote.origin.url', `ext::sh -c touch% ${canary}`);
        config(work, 'remote.origin.fetch', '+refs/heads/*:refs/remotes/origin/*');
      },
      refused: 'origin',
    },
    'an fd:: origin': { arm: (work) => config(work, 'remote.origin.url', 'fd::3'), refused: 'origin' },
    'a remote-helper origin': { arm: (work) => config(work, 'remote.origin.url', 'mytransport::somewhere'), refused: 'origin' },
    'an unknown URL scheme (a remote helper)': { arm: (work) => config(work, 'remote.origin.url', 'evil://host/repo.git'), refused: 'origin' },
    'an origin that is an option': { arm: (work, canary) => config(work, 'remote.origin.url', `--upload-pack=touch ${canary}`), refused: 'origin' },
    'an ssh origin whose host is an option': { arm: (work, canary) => config(work, 'remote.origin.url', `ssh://-oProxyCommand=touch%20${canary}/x`), refused: 'origin' },
    'an scp-like origin whose host is an option': { arm: (work, canary) => config(work, 'remote.origin.url', `-oProxyCommand=touch:x`), refused: 'origin' },
    'an origin with a control character': { arm: (work) => config(work, 'remote.origin.url', 'git@example.invalid:x.git\u001b[2J'), refused: 'origin' },
    'an origin rewritten by url.insteadOf into ext::': {
      arm: (work, canary) => {
        config(work, 'url.ext::sh -c touch% ' + canary + '% #.insteadOf', 'https://');
        config(work, 'remote.origin.url', 'https://example.invalid/x.git');
      },
      refused: 'origin',
    },
  };

  /** A committed repository with a changed file, a touched-but-same file and an untracked file. */
  function dirtyRepo(name: string, arm: (work: string) => void): string {
    const work = join(mkdtempSync(join(base, 'repo-')), name.replace(/[^a-z0-9]+/gi, '-'));
    execFileSync('git', ['init', '-q', '-b', 'main', work]);
    writeFileSync(join(work, 'train.py'), 'print(1)\n');
    writeFileSync(join(work, 'same.py'), 'print("same")\n');
    git(work, 'add', '.');
    git(work, 'commit', '-qm', 'First model');
    arm(work);
    writeFileSync(join(work, 'train.py'), 'print(2)\n');
    const later = new Date(Date.now() + 5_000);
    utimesSync(join(work, 'same.py'), later, later);
    writeFileSync(join(work, 'untracked.txt'), 'x');
    return work;
  }

  it.each(Object.entries(CASES))('%s: runs nothing', async (name, hostile) => {
    const canary = join(canaryDir, name.replace(/[^a-z0-9]+/gi, '-'));
    const work = dirtyRepo(name, (dir) => hostile.arm(dir, canary));
    const outcome = await readRepo(work).catch((caught: unknown) => caught);
    expect(existsSync(canary), `${name} ran a program`).toBe(false);
    if (hostile.refused) {
      expect(outcome).toBeInstanceOf(ValidationError);
      expect((outcome as ValidationError).field).toBe(hostile.refused);
    } else {
      expect(outcome, String(outcome)).toMatchObject({ root: work, dirty: true, headSubject: expect.any(String) });
    }
  });
});
