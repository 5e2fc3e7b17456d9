// The three transports against the lab: ssh2 and the system ssh through real sshds, local on this machine
// (the lab's login node). Failure injection uses this suite's own sshd (the lab's config on another port, killed
// and restarted by pid) and a TCP listener that never speaks; the lab's sshd and daemons are never touched.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterConfig } from '../../server/config.js';
import { ClusterUnreachableError, ReauthRequiredError } from '../../server/errors.js';
import { createLocalTransport } from '../../server/ssh/local-transport.js';
import { createOpensshTransport, reauthCommand, sshControlArgs } from '../../server/ssh/openssh-transport.js';
import { createSsh2Transport, type Ssh2TransportDeps } from '../../server/ssh/ssh2-transport.js';
import type { StreamingTransport } from '../../server/ssh/transport.js';
import { freePort } from '../free-port.js';
import { labClusterConfig, labForSuite, type Lab } from './lab-env.js';

const lab = labForSuite('lab transports suite');

// Short: the ControlPath socket name must fit in a Unix socket path.
const scratch = mkdtempSync(join(tmpdir(), 'mc-tr-'));
const transports: StreamingTransport[] = [];
const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  await Promise.all(transports.splice(0).map((t) => t.close()));
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

function keep<T extends StreamingTransport>(transport: T): T {
  transports.push(transport);
  return transport;
}

let controlDirs = 0;
function opensshConfig(overrides: Partial<ClusterConfig> = {}): ClusterConfig {
  return labClusterConfig(lab!, { transport: 'openssh', controlDir: join(scratch, `cm${++controlDirs}`), ...overrides });
}

/** Stops any master a test's control directory still has. */
function exitMaster(config: ClusterConfig) {
  spawnSync('ssh', sshControlArgs(config, 'exit'), { stdio: 'ignore', timeout: 10_000 });
}

/** Running, not a zombie nobody has reaped yet. */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Pids of live processes whose command line is exactly argv (the lab's remote commands run on this machine). */
function pidsRunning(argv: string[]): number[] {
  const wanted = argv.join('\0');
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0$/, '') === wanted && running(Number(pid));
      } catch {
        return false;
      }
    })
    .map(Number);
}

function childPids(parent: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent;
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function until(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not ready within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** This suite's own sshd: the lab's config and host key on another port, MaxSessions 2, in the foreground so its pid is ours. */
async function throwawaySshd(lab: Lab) {
  const dir = mkdtempSync(join(scratch, 'sshd-'));
  const port = await freePort();
  const config = join(dir, 'sshd_config');
  const labConfig = readFileSync(join(lab.stateDir, 'ssh', 'sshd_config'), 'utf8');
  writeFileSync(config, `${labConfig.replace(/^Port .*$/m, `Port ${port}`).replace(/^PidFile .*$/m, `PidFile ${join(dir, 'sshd.pid')}`)}\nMaxSessions 2\n`);
  let daemon: ChildProcess | null = null;
  const killTree = (root: number, privilegedOnly: boolean) => {
    const descendants = (pid: number): number[] => childPids(pid).flatMap((child) => [child, ...descendants(child)]);
    for (const pid of privilegedOnly ? childPids(root) : descendants(root)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Ended on its own meanwhile.
      }
    }
  };
  const sshd = {
    port,
    /** What an OOM killer might do on a login node: the privileged half of each connection dies, the rest lives. */
    killPrivilegedHalves() {
      if (daemon?.pid) killTree(daemon.pid, true);
    },
    async start() {
      daemon = spawn('/usr/sbin/sshd', ['-D', '-f', config, '-E', join(dir, 'sshd.log')], { stdio: 'ignore' });
      await until(() => accepting(port), 10_000);
    },
    /**
     * The host goes down: the listener and every process it forked, each by its pid. Killing only the listener
     * leaves open connections working; killing only a connection's privileged process leaves its unprivileged
     * child holding the TCP connection, which then opens channels but fails every exec.
     */
    async kill() {
      const listener = daemon;
      if (!listener?.pid) return;
      killTree(listener.pid, false);
      listener.kill('SIGKILL');
      await new Promise((resolve) => (listener.exitCode !== null || listener.signalCode !== null ? resolve(null) : listener.once('exit', resolve)));
      daemon = null;
    },
  };
  cleanups.push(() => sshd.kill());
  await sshd.start();
  return sshd;
}

describe.skipIf(!lab)('every transport against the lab', () => {
  const kinds = {
    ssh2: () => keep(createSsh2Transport(labClusterConfig(lab!))),
    openssh: () => {
      const config = opensshConfig();
      cleanups.push(() => exitMaster(config));
      return keep(createOpensshTransport(config));
    },
    local: () => keep(createLocalTransport(labClusterConfig(lab!, { transport: 'local' }))),
  };

  describe.each(Object.keys(kinds) as Array<keyof typeof kinds>)('%s', (kind) => {
    let transport: StreamingTransport;
    beforeAll(() => {
      transport = kinds[kind]();
    });

    it('runs sinfo and gets the lab partitions', async () => {
      const sinfo = await transport.exec(['sinfo', '-h', '-o', '%P']);
      expect(sinfo.exitCode).toBe(0);
      expect(sinfo.stdout.split('\n').filter(Boolean)).toEqual(['gpu*', 'cpu']);
      expect((await transport.exec(['sinfo', '-h'])).stdout).toMatch(/^gpu\*\s+up/);
      if (kind === 'local') expect((await transport.exec(['squeue', '--version'])).stdout).toMatch(new RegExp(`^slurm(-wlm)? ${lab!.slurmVersion}\n$`));
    });

    it('delivers hostile argv unchanged and runs none of it', async () => {
      const canary = join(scratch, `canary-${kind}`);
      const hostile = [`$(touch ${canary})`, `\`touch ${canary}\``, `; touch ${canary}`, `' ; touch ${canary}; '`, `a\ntouch ${canary}`, '-o', '', '*', '~', '$HOME', 'ｓｂａｔｃｈ', "it's"];
      const echoed = await transport.exec(['printf', '%s\\0', ...hostile]);
      expect(echoed.stdout.split('\0').slice(0, -1)).toEqual(hostile);
      expect(() => statSync(canary)).toThrow();
    });

    it('streams lines as they are printed', async () => {
      const started = Date.now();
      const arrivals: Array<[string, number]> = [];
      const handle = await transport.stream(['sh', '-c', 'for i in 1 2 3; do echo $i; sleep 0.3; done'], { onStdout: (chunk) => arrivals.push([chunk, Date.now() - started]) });
      expect(await handle.done).toEqual({ exitCode: 0, error: null });
      const ended = Date.now() - started;
      expect(arrivals.map(([chunk]) => chunk).join('')).toBe('1\n2\n3\n');
      expect(arrivals[0]![1]).toBeLessThan(ended - 500);
    });

    it('a timeout ends the command on the cluster too', async () => {
      const sleep = ['sleep', `30.${process.pid}${transports.length}`];
      // Long enough for the remote shell to start (and, for openssh, to report its pid) on a busy machine.
      await expect(transport.exec(sleep, { timeoutMs: 1500 })).rejects.toThrow(/did not finish within 1500 ms/);
      await expect.poll(() => pidsRunning(sleep), { timeout: 5000 }).toEqual([]);
      expect((await transport.exec(['echo', 'still here'])).stdout).toBe('still here\n');
    });

    it('stop() ends a sleep 60 promptly, on the cluster too', async () => {
      const sleep = ['sleep', `60.${process.pid}${transports.length}`];
      const handle = await transport.stream(sleep, { onStdout: () => {} });
      await expect.poll(() => pidsRunning(sleep).length, { timeout: 5000 }).toBe(1);
      const stopped = Date.now();
      handle.stop();
      expect(await handle.done).toEqual({ exitCode: null, error: null });
      expect(Date.now() - stopped).toBeLessThan(2000);
      await expect.poll(() => pidsRunning(sleep), { timeout: 5000 }).toEqual([]);
    });
  });
});

describe.skipIf(!lab)('openssh ControlMaster through the lab sshd', () => {
  it('opens one master socket and runs later commands through it', async () => {
    const config = opensshConfig();
    cleanups.push(() => exitMaster(config));
    const ssh = keep(createOpensshTransport(config));
    const first = await ssh.exec(['sh', '-c', 'echo "$SSH_CONNECTION"']);
    const sockets = readdirSync(config.controlDir);
    expect(sockets).toEqual([expect.stringMatching(/^cm-[0-9a-f]{40}$/)]);
    expect(statSync(join(config.controlDir, sockets[0]!)).isSocket()).toBe(true);
    const check = spawnSync('ssh', sshControlArgs(config, 'check'), { encoding: 'utf8' });
    expect(check.status).toBe(0);
    const masterPid = /Master running \(pid=(\d+)\)/.exec(check.stderr)?.[1];
    expect(masterPid).toBeDefined();

    const second = await ssh.exec(['sh', '-c', 'echo "$SSH_CONNECTION"']);
    // Same client port: the same TCP connection, so the second command went through the master.
    expect(second.stdout).toBe(first.stdout);
    expect(spawnSync('ssh', sshControlArgs(config, 'check'), { encoding: 'utf8' }).stderr).toContain(`pid=${masterPid}`);

    await ssh.close();
    expect(readdirSync(config.controlDir)).toEqual([]);
  });

  it('requireMaster: no master is a ReauthRequiredError whose command, run as printed, opens one', async () => {
    const config = opensshConfig({ requireMaster: true, controlPersist: '60' });
    cleanups.push(() => exitMaster(config));
    const ssh = keep(createOpensshTransport(config));

    const error = await ssh.exec(['sinfo', '-h']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReauthRequiredError);
    const command = (error as ReauthRequiredError).command;
    expect(command).toBe(reauthCommand(config));
    expect(command).toMatch(/^ssh -o ControlMaster=auto .*-o ControlPersist=60 .* -p 2222 -- mlops@127\.0\.0\.1 true$/);
    expect(readdirSync(config.controlDir)).toEqual([]);

    // What a person does: paste the line into a shell (here it logs in with the lab key, no Duo).
    const login = spawnSync('sh', ['-c', command], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
    expect(login.status, login.stderr).toBe(0);
    expect((await ssh.exec(['sinfo', '-h', '-o', '%P'])).stdout).toBe('gpu*\ncpu\n');

    exitMaster(config);
    await expect(ssh.exec(['true'])).rejects.toBeInstanceOf(ReauthRequiredError);
  });

  it('uses an ssh-agent, as ssh2 does', async () => {
    const agentSocket = join(scratch, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', agentSocket], { stdio: 'ignore' });
    cleanups.push(() => agent.kill());
    await expect.poll(() => {
      try {
        return statSync(agentSocket).isSocket();
      } catch {
        return false;
      }
    }).toBe(true);
    const added = spawnSync('ssh-add', [lab!.identityFile], { env: { ...process.env, SSH_AUTH_SOCK: agentSocket }, encoding: 'utf8' });
    expect(added.status, added.stderr).toBe(0);

    const config = opensshConfig({ identityFile: undefined, agent: agentSocket });
    cleanups.push(() => exitMaster(config));
    expect((await keep(createOpensshTransport(config)).exec(['echo', 'agent'])).stdout).toBe('agent\n');
    expect((await keep(createSsh2Transport(labClusterConfig(lab!, { identityFile: undefined, agent: agentSocket }))).exec(['echo', 'agent'])).stdout).toBe('agent\n');
  });
});

describe.skipIf(!lab)('ssh2 when the host goes away', () => {
  let sshd: Awaited<ReturnType<typeof throwawaySshd>>;
  beforeAll(async () => {
    sshd = await throwawaySshd(lab!);
  });
  const onThrowaway = (overrides: Partial<ClusterConfig> = {}, deps: Ssh2TransportDeps = {}) =>
    keep(createSsh2Transport(labClusterConfig(lab!, { port: sshd.port, knownHostsFile: undefined, hostKeyFingerprint: lab!.hostKeyFingerprint, ...overrides }), deps));

  it('a channel sshd refuses (MaxSessions 2) fails alone; the connection carries on', async () => {
    const ssh = onThrowaway({ maxChannels: 4 });
    const before = (await ssh.exec(['sh', '-c', 'echo "$SSH_CONNECTION"'])).stdout;
    const burst = await Promise.allSettled(Array.from({ length: 4 }, () => ssh.exec(['sleep', '0.5'])));
    const refused = burst.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as Error).message);
    expect(refused.length).toBeGreaterThan(0);
    for (const message of refused) expect(message).toMatch(/\(SSH\) Channel open failure: open failed.*the connection stays open/);
    // sshd frees a finished session's slot a moment after the client saw it close, so right after a full burst
    // the next channel can still be refused: ask until it opens, and check it is the same connection.
    await expect.poll(() => ssh.exec(['sh', '-c', 'echo "$SSH_CONNECTION"']).then((r) => r.stdout, () => 'refused'), { timeout: 5000 }).toBe(before);
  });

  it('replaces a connection whose privileged sshd process died instead of failing on it forever', async () => {
    const ssh = onThrowaway();
    const connectionOf = async () => (await ssh.exec(['sh', '-c', 'echo "$SSH_CONNECTION"'])).stdout;
    const first = await connectionOf();
    sshd.killPrivilegedHalves();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const failed = await connectionOf().catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(ClusterUnreachableError);
    expect((failed as Error).message).toMatch(/Unable to exec: sshd opened a session but would not run the command/);
    const next = await connectionOf();
    expect(next).not.toBe(first);
  });

  it('reconnects after the host comes back, pacing its attempts, without being recreated', async () => {
    const ssh = onThrowaway({}, { random: () => 0.9 });
    const first = (await ssh.exec(['sh', '-c', 'echo "$SSH_CONNECTION"'])).stdout;
    await sshd.kill();

    const down = await ssh.exec(['true']).catch((e: unknown) => e);
    expect(down).toBeInstanceOf(ClusterUnreachableError);
    expect((down as Error).message).toMatch(/ECONNREFUSED/);
    const fast = await ssh.exec(['true']).catch((e: unknown) => e);
    expect(fast).toBeInstanceOf(ClusterUnreachableError);
    expect((fast as Error).message).toMatch(/ECONNREFUSED.*next connection attempt in 0\.\d s, at \d{4}-/);

    await sshd.start();
    const failures: string[] = [];
    let back: string | undefined;
    const deadline = Date.now() + 15_000;
    while (!back && Date.now() < deadline) {
      try {
        back = (await ssh.exec(['sh', '-c', 'echo "$SSH_CONNECTION"'])).stdout;
      } catch (error) {
        failures.push((error as Error).message);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    expect(back).toMatch(new RegExp(`^127\\.0\\.0\\.1 \\d+ 127\\.0\\.0\\.1 ${sshd.port}\\n$`));
    expect(back).not.toBe(first);
    // Calls made during the wait were answered at once, without touching the host.
    expect(failures.every((message) => /next connection attempt in/.test(message))).toBe(true);
  });

  it('a listener that accepts and never speaks: one rejection, a handshake timeout, within connectTimeoutMs', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => silent.close(resolve));
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    cleanups.push(() => process.off('unhandledRejection', onUnhandled));

    const ssh = onThrowaway({ port: (silent.address() as { port: number }).port, connectTimeoutMs: 1500 });
    const started = Date.now();
    let rejections = 0;
    const error = await ssh.exec(['true']).then(
      () => null,
      (e: unknown) => {
        rejections++;
        return e;
      },
    );
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(ClusterUnreachableError);
    expect((error as Error).message).toMatch(/Timed out while waiting for handshake/);
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(2500);
    await new Promise((resolve) => setTimeout(resolve, 500)); // room for ssh2's second error to surface
    expect(rejections).toBe(1);
    expect(unhandled).toEqual([]);
  });
});
