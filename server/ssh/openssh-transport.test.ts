import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { clusterConfig, loadConfig } from '../config.js';
import { ClusterUnreachableError, CommandTimeoutError, ConfigError, HostKeyError, ReauthRequiredError } from '../errors.js';
import { createOpensshTransport, reauthCommand, splitPid, sshCommandArgs, sshConnectionOptions, sshControlArgs, sshFailure } from './openssh-transport.js';
import type { StreamingTransport } from './transport.js';

const dir = mkdtempSync(join(tmpdir(), 'mc-openssh-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cluster = (overrides: Parameters<typeof clusterConfig>[1] = {}) =>
  clusterConfig('hpc', {
    transport: 'openssh',
    host: 'login.hpc.example.edu',
    port: 2222,
    user: 'jdoe',
    identityFile: '/keys/id_ed25519',
    knownHostsFile: '/keys/known_hosts',
    controlDir: '/run/mc',
    ...overrides,
  });

describe('ssh options from the cluster config', () => {
  it('builds the exact argv of a command', () => {
    expect(sshCommandArgs(cluster(), "sinfo -h -o '%P|%a'")).toEqual([
      '-o', 'BatchMode=yes',
      '-o', 'ControlMaster=auto',
      '-o', 'ControlPath=/run/mc/cm-%C',
      '-o', 'ControlPersist=8h',
      '-o', 'StrictHostKeyChecking=yes',
      '-o', 'UserKnownHostsFile=/keys/known_hosts',
      '-o', 'ConnectTimeout=10',
      '-o', 'ServerAliveInterval=15',
      '-o', 'ServerAliveCountMax=3',
      '-i', '/keys/id_ed25519',
      '-o', 'IdentityAgent=none',
      '-p', '2222',
      '-o', 'LogLevel=ERROR',
      '-T',
      '--',
      'jdoe@login.hpc.example.edu',
      "sinfo -h -o '%P|%a'",
    ]);
  });

  it('maps agent, timeouts, keepalive and persistence', () => {
    const options = sshConnectionOptions(cluster({ agent: true, identityFile: undefined, knownHostsFile: undefined, connectTimeoutMs: 2500, keepaliveIntervalMs: 0, keepaliveCountMax: 5, controlPersist: '30m', controlDir: '~/.ssh/mc' }));
    expect(options).toEqual([
      '-o', `ControlPath=${join(homedir(), '.ssh/mc/cm-%C')}`,
      '-o', 'ControlPersist=30m',
      '-o', 'StrictHostKeyChecking=yes',
      '-o', 'ConnectTimeout=3',
      '-o', 'ServerAliveInterval=0',
      '-o', 'ServerAliveCountMax=5',
      '-p', '2222',
    ]);
    expect(sshConnectionOptions(cluster({ agent: '/run/agent.sock' }))).toContain('IdentityAgent=/run/agent.sock');
    expect(sshControlArgs(cluster(), 'check').slice(-4)).toEqual(['-O', 'check', '--', 'jdoe@login.hpc.example.edu']);
  });

  it('prints the re-login command a person pastes into a terminal', () => {
    expect(reauthCommand(cluster({ requireMaster: true }))).toBe(
      'ssh -o ControlMaster=auto -o ControlPath=/run/mc/cm-%C -o ControlPersist=8h -o StrictHostKeyChecking=yes ' +
        '-o UserKnownHostsFile=/keys/known_hosts -o ConnectTimeout=10 -o ServerAliveInterval=15 -o ServerAliveCountMax=3 ' +
        '-i /keys/id_ed25519 -o IdentityAgent=none -p 2222 -- jdoe@login.hpc.example.edu true',
    );
    expect(reauthCommand(cluster({ controlDir: '/run/my sockets', identityFile: undefined }))).toContain("-o 'ControlPath=/run/my sockets/cm-%C'");
  });

  it('takes the pid line off stderr only when it is there', () => {
    expect(splitPid('4242\noops\n')).toEqual({ pid: '4242', stderr: 'oops\n' });
    expect(splitPid('ssh: connect to host login port 22: Connection refused\r\n')).toEqual({ pid: null, stderr: 'ssh: connect to host login port 22: Connection refused\r\n' });
  });

  it("tells ssh's own failures from a remote command that exits 255", () => {
    expect(sshFailure('hpc', 'my tool failed\n')).toBeNull();
    expect(sshFailure('hpc', 'ssh: connect to host login port 22: Connection refused\r\n')).toMatchObject({ message: 'hpc: ssh: connect to host login port 22: Connection refused' });
    expect(sshFailure('hpc', 'jdoe@login: Permission denied (publickey,keyboard-interactive).')).toBeInstanceOf(ClusterUnreachableError);
    expect(sshFailure('hpc', 'Control socket connect(/run/mc/cm-1): No such file or directory')).toBeInstanceOf(ClusterUnreachableError);

    const changed = sshFailure('hpc', '@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nThe fingerprint for the ED25519 key sent by the remote host is\nSHA256:WKNAah9EQN5xWZOc1CzaOkfip6dvxsaGLZQ69tnCdig.\nHost key verification failed.');
    expect(changed).toBeInstanceOf(HostKeyError);
    expect(changed).toMatchObject({ changed: true, fingerprint: 'SHA256:WKNAah9EQN5xWZOc1CzaOkfip6dvxsaGLZQ69tnCdig' });
    const unknown = sshFailure('hpc', 'No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\nHost key verification failed.');
    expect(unknown).toMatchObject({ changed: false, message: expect.stringContaining('not in known_hosts') });
  });
});

describe('openssh options in clusters.yaml', () => {
  const key = join(dir, 'id_ed25519');
  writeFileSync(key, 'only its readability is checked');
  const load = (lines: string) => {
    const file = join(dir, 'clusters.yaml');
    writeFileSync(file, `clusters:\n  hpc:\n    host: login\n    user: jdoe\n${lines.replace(/^/gm, '    ')}\n`);
    return loadConfig(file);
  };

  it('accepts an MFA cluster and fills the defaults', () => {
    expect(load('transport: openssh\nrequireMaster: true').clusters[0]).toMatchObject({ transport: 'openssh', requireMaster: true, controlPersist: '8h', controlDir: join(homedir(), '.ssh/mission-control'), keepaliveCountMax: 3 });
    expect(load('transport: openssh\ncontrolDir: sockets').clusters[0]!.controlDir).toBe(join(dir, 'sockets'));
  });

  it('refuses combinations ssh cannot do', () => {
    expect(() => load('transport: openssh\nhostKeyFingerprint: SHA256:WKNAah9EQN5xWZOc1CzaOkfip6dvxsaGLZQ69tnCdig')).toThrow(/field "hostKeyFingerprint" is not supported by transport: openssh/);
    expect(() => createOpensshTransport(cluster({ hostKeyFingerprint: 'SHA256:WKNAah9EQN5xWZOc1CzaOkfip6dvxsaGLZQ69tnCdig' }))).toThrow(ConfigError);
    writeFileSync(join(dir, 'pw'), 'secret\n', { mode: 0o600 });
    expect(() => load(`transport: openssh\npasswordFile: ${join(dir, 'pw')}`)).toThrow(/field "passwordFile" is not supported by transport: openssh/);
    expect(() => load(`identityFile: ${key}\nrequireMaster: true`)).toThrow(/field "requireMaster" only applies to transport: openssh/);
    expect(() => load(`transport: openssh\ncontrolDir: /${'d'.repeat(60)}`)).toThrow(/field "controlDir" is too long for a Unix socket path/);
    expect(() => load('transport: openssh\ncontrolPersist: forever')).toThrow(/field "controlPersist" must be yes or an ssh time/);
  });

  it('takes a password file only when other users cannot read it', () => {
    const file = join(dir, 'password');
    writeFileSync(file, 'secret\n');
    chmodSync(file, 0o644);
    expect(() => load(`passwordFile: ${file}`)).toThrow(/field "passwordFile" can be read by other users; run chmod 600/);
    chmodSync(file, 0o600);
    expect(load(`passwordFile: ${file}`).clusters[0]).toMatchObject({ transport: 'ssh2', passwordFile: file });
  });
});

/**
 * A stand-in for ssh that logs its argv and runs the "remote" command with the local /bin/sh; `-O check` answers
 * from a marker file that a `true` login creates, as ControlPersist would leave a master.
 */
function fakeSsh() {
  const home = mkdtempSync(join(dir, 'fake-'));
  const program = join(home, 'ssh');
  writeFileSync(
    program,
    `#!/bin/sh
dir=${JSON.stringify(home)}
{ for a in "$@"; do printf '%s\\037' "$a"; done; printf '\\036\\n'; } >> "$dir/calls"
op=; prev=
for a in "$@"; do [ "$prev" = -O ] && op=$a; prev=$a; done
for last in "$@"; do :; done
case $op in
  check) [ -e "$dir/master" ] && { echo "Master running (pid=1)" >&2; exit 0; }
         echo "Control socket connect($dir/cm): No such file or directory" >&2; exit 255 ;;
  exit) rm -f "$dir/master"; echo "Exit request sent." >&2; exit 0 ;;
esac
[ -e "$dir/unreachable" ] && { echo "ssh: connect to host login port 2222: Connection refused" >&2; exit 255; }
[ "$last" = true ] && touch "$dir/master"
exec /bin/sh -c "$last"
`,
    { mode: 0o755 },
  );
  return {
    program,
    home,
    /** Each call as its kind: check, exit, login (true) or the remote command. */
    calls(): string[] {
      if (!existsSync(join(home, 'calls'))) return [];
      return readFileSync(join(home, 'calls'), 'utf8')
        .split('\x1e\n')
        .filter(Boolean)
        .map((record) => {
          const args = record.split('\x1f').slice(0, -1);
          const operation = args[args.indexOf('-O') + 1];
          if (args.includes('-O')) return operation!;
          const remote = args.at(-1)!;
          return remote === 'true' ? 'login' : remote.replace(PID_WRAPPER, '');
        });
    },
    set(marker: 'master' | 'unreachable', present: boolean) {
      if (present) writeFileSync(join(home, marker), '');
      else rmSync(join(home, marker), { force: true });
    },
  };
}

const PID_WRAPPER = `sh -c 'echo "$$" >&2; exec "$@"' sh `;

describe('openssh transport with a stand-in ssh', () => {
  let fake: ReturnType<typeof fakeSsh>;
  const opened: StreamingTransport[] = [];
  beforeEach(() => {
    fake = fakeSsh();
  });
  afterAll(() => Promise.all(opened.map((t) => t.close())));
  const transport = (overrides: Parameters<typeof cluster>[0] = {}, deps: { random?: () => number; now?: () => number } = {}) => {
    const created = createOpensshTransport(cluster({ controlDir: join(fake.home, 'cm'), ...overrides }), { sshPath: fake.program, ...deps });
    opened.push(created);
    return created;
  };

  it('logs in once, alone, then runs every command through the master, argv intact', async () => {
    const ssh = transport();
    const hostile = ['$(touch /tmp/mc-canary)', "it's", '', '-o', 'line\nbreak', '*'];
    const [first, second] = await Promise.all([ssh.exec(['printf', '%s\\0', ...hostile]), ssh.exec(['echo', 'two'])]);
    expect(first!.stdout.split('\0').slice(0, -1)).toEqual(hostile);
    expect(second!.stdout).toBe('two\n');
    expect(fake.calls().slice(0, 2)).toEqual(['check', 'login']);
    expect(fake.calls().filter((call) => call === 'check' || call === 'login')).toHaveLength(2);
    await ssh.exec(['true']);
    expect(fake.calls()).toHaveLength(5);
    expect(existsSync(join(fake.home, 'cm'))).toBe(true);
    await ssh.close();
    expect(fake.calls().at(-1)).toBe('exit');
  });

  it('with requireMaster, never logs in: no master means ReauthRequiredError with the command to run', async () => {
    const config = cluster({ controlDir: join(fake.home, 'cm'), requireMaster: true });
    const ssh = transport({ requireMaster: true });
    const error = await ssh.exec(['sinfo']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReauthRequiredError);
    expect((error as ReauthRequiredError).command).toBe(reauthCommand(config));
    expect((error as Error).message).toContain('needs you to log in again');
    expect(fake.calls()).toEqual(['check']);

    fake.set('master', true);
    expect((await ssh.exec(['echo', 'ok'])).stdout).toBe('ok\n');
    expect(fake.calls()).toEqual(['check', 'check', 'echo ok']);
    await ssh.close();
    expect(fake.calls().at(-1)).toBe('echo ok'); // a master a person opened is left alone
  });

  it('backs off from an unreachable host and says when it tries again', async () => {
    let clock = 1_000_000;
    const ssh = transport({}, { random: () => 0.5, now: () => clock });
    fake.set('unreachable', true);
    await expect(ssh.exec(['true'])).rejects.toThrow(/ssh: connect to host login port 2222: Connection refused/);
    const logins = () => fake.calls().filter((call) => call === 'login').length;
    expect(logins()).toBe(1);
    const fast = await ssh.exec(['true']).catch((e: unknown) => e);
    expect(fast).toBeInstanceOf(ClusterUnreachableError);
    expect((fast as Error).message).toMatch(/next connection attempt in 0\.5 s \(at 1970-01-01T00:16:40\.500Z\) after 1 failed attempt/);
    expect(logins()).toBe(1);
    clock += 500;
    fake.set('unreachable', false);
    expect((await ssh.exec(['echo', 'back'])).stdout).toBe('back\n');
    expect(logins()).toBe(2);
  });

  it('passes stderr and exit codes through, without the pid line', async () => {
    fake.set('master', true);
    const ssh = transport();
    expect(await ssh.exec(['sh', '-c', 'echo bad >&2; exit 3'])).toMatchObject({ stdout: '', stderr: 'bad\n', exitCode: 3 });
    expect(await ssh.exec(['sh', '-c', 'exit 255'])).toMatchObject({ exitCode: 255 }); // the remote's own 255 is a result
  });

  it('kills ssh at the timeout, and the command on the cluster by its pid', async () => {
    fake.set('master', true);
    const ssh = transport();
    const started = Date.now();
    await expect(ssh.exec(['sleep', '3'], { timeoutMs: 300 })).rejects.toThrow(CommandTimeoutError);
    expect(Date.now() - started).toBeLessThan(2000);
    await expect.poll(() => fake.calls().some((call) => call.startsWith("sh -c 'kill -TERM"))).toBe(true);
  });

  it('streams output as it comes, and stop() also kills the remote command by the pid it reported', async () => {
    fake.set('master', true);
    const ssh = transport();
    const lines: string[] = [];
    const stderr: string[] = [];
    const handle = await ssh.stream(['sh', '-c', 'echo one; echo oops >&2; exec sleep 30'], { onStdout: (chunk) => lines.push(chunk), onStderr: (chunk) => stderr.push(chunk) });
    await expect.poll(() => lines.join('')).toBe('one\n');
    await expect.poll(() => stderr.join('')).toBe('oops\n'); // the pid line is not passed on
    handle.stop();
    expect(await handle.done).toEqual({ exitCode: null, error: null });
    await expect.poll(() => fake.calls().some((call) => call.startsWith('sh -c \'kill -TERM'))).toBe(true);
  });
});
