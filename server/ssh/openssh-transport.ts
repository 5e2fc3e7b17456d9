// The system ssh binary sharing one OpenSSH ControlMaster connection per cluster. It exists for what ssh2
// cannot do: reuse a master a person opened in a terminal (Duo/MFA clusters), and anything the user's
// ~/.ssh/config knows (ProxyJump, Kerberos). ssh runs from an argv array, never through a local shell; the
// remote command is one argument, the text quoteArgv made.
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ClusterUnreachableError, CommandTimeoutError, ConfigError, HostKeyError, ReauthRequiredError } from '../errors.js';
import { createBackoff, type Backoff } from '../lib/backoff.js';
import { createChannelLimiter } from '../lib/channel-limiter.js';
import { runProcess, streamProcess, type ChildSet, type ProcessResult } from './child-process.js';
import { quoteArgv } from './quote.js';
import type { ConnectionSettings } from './connection.js';
import type { ConnectionHooks, ExecOptions, ExecResult, StreamHandle, StreamingTransport, StreamOptions } from './transport.js';

export type OpensshClusterConfig = Pick<
  ConnectionSettings,
  | 'name'
  | 'host'
  | 'port'
  | 'user'
  | 'identityFile'
  | 'agent'
  | 'knownHostsFile'
  | 'hostKeyFingerprint'
  | 'connectTimeoutMs'
  | 'commandTimeoutMs'
  | 'keepaliveIntervalMs'
  | 'keepaliveCountMax'
  | 'maxChannels'
  | 'controlDir'
  | 'controlPersist'
  | 'requireMaster'
>;

export interface OpensshTransportDeps extends ConnectionHooks {
  /** The ssh program; tests point it elsewhere. The printed re-login command always says `ssh`. */
  sshPath?: string;
  random?: () => number;
  now?: () => number;
}

export function controlDirectory(cluster: Pick<ConnectionSettings, 'controlDir'>): string {
  const dir = cluster.controlDir;
  return dir === '~' || dir.startsWith('~/') ? join(homedir(), dir.slice(2)) : resolve(dir);
}

function destination(cluster: OpensshClusterConfig): string {
  return `${cluster.user}@${cluster.host}`;
}

/**
 * What every ssh run for this cluster shares. Commands, `-O check` and the re-login command a person types must
 * agree on host, port and user, because ControlPath's %C is a hash of them: that is how they find one master.
 */
export function sshConnectionOptions(cluster: OpensshClusterConfig): string[] {
  const options = [
    '-o', `ControlPath=${join(controlDirectory(cluster), 'cm-%C')}`,
    '-o', `ControlPersist=${cluster.controlPersist}`,
    '-o', 'StrictHostKeyChecking=yes',
  ];
  if (cluster.knownHostsFile) options.push('-o', `UserKnownHostsFile=${cluster.knownHostsFile}`);
  options.push(
    '-o', `ConnectTimeout=${Math.ceil(cluster.connectTimeoutMs / 1000)}`,
    '-o', `ServerAliveInterval=${Math.ceil(cluster.keepaliveIntervalMs / 1000)}`,
    '-o', `ServerAliveCountMax=${cluster.keepaliveCountMax}`,
  );
  if (cluster.identityFile) options.push('-i', cluster.identityFile);
  if (cluster.agent === false) options.push('-o', 'IdentityAgent=none');
  else if (typeof cluster.agent === 'string') options.push('-o', `IdentityAgent=${cluster.agent}`);
  options.push('-p', String(cluster.port));
  return options;
}

/**
 * The argv of ssh running one remote command. BatchMode: never wait for a password nobody will type.
 * `--` ends ssh's options: without it ssh re-reads options after the destination, and a command starting with
 * `-o` would be taken as one.
 */
export function sshCommandArgs(cluster: OpensshClusterConfig, remoteCommand: string): string[] {
  return ['-o', 'BatchMode=yes', '-o', 'ControlMaster=auto', ...sshConnectionOptions(cluster), '-o', 'LogLevel=ERROR', '-T', '--', destination(cluster), remoteCommand];
}

export function sshControlArgs(cluster: OpensshClusterConfig, operation: 'check' | 'exit'): string[] {
  return ['-o', 'BatchMode=yes', ...sshConnectionOptions(cluster), '-O', operation, '--', destination(cluster)];
}

/**
 * The line a person runs (on the server's machine, as the server's user) to log in and leave a master behind.
 * ControlMaster=auto rather than yes: after a master was killed its socket file stays, and `yes` then refuses to
 * bind ("already exists, disabling multiplexing") and logs in without leaving a master, while `auto` removes
 * the stale socket.
 */
export function reauthCommand(cluster: OpensshClusterConfig): string {
  return quoteArgv(['ssh', '-o', 'ControlMaster=auto', ...sshConnectionOptions(cluster), '--', destination(cluster), 'true']);
}

const SSH_OWN_FAILURE = [
  /^ssh: /m,
  /Permission denied \(/,
  /Connection (closed|reset) by /,
  /Connection to \S+ closed by remote host/,
  /Connection timed out during banner exchange/,
  /kex_exchange_identification/,
  /Timeout, server \S+ not responding/,
  /^(mux_client_|muxclient|client_loop|Control socket connect)/m,
  /ControlPath too long|ControlSocket .* already exists/,
  /Bad owner or permissions on/,
  /^Load key "/m,
  /^no such identity/m,
];

/**
 * ssh exits 255 both for its own failures and when the remote command does; its own failures are told apart by
 * what ssh writes. Returns the error to throw, or null when the 255 came from the remote command.
 */
export function sshFailure(clusterName: string, stderr: string): ClusterUnreachableError | null {
  const text = stderr.trim();
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|host key is known for/.test(text)) {
    const changed = /HAS CHANGED|has changed/.test(text);
    const fingerprint = /SHA256:[A-Za-z0-9+/]{43}/.exec(text)?.[0] ?? 'unknown';
    const detail = changed
      ? `host key REFUSED: it has CHANGED since it was recorded in known_hosts; presented ${fingerprint}. If the cluster's key really changed, update known_hosts.`
      : 'unknown host key: the host is not in known_hosts. Confirm its key with the cluster\'s admins, then add it to known_hosts (knownHostsFile).';
    return new HostKeyError(clusterName, fingerprint, changed, detail);
  }
  if (!SSH_OWN_FAILURE.some((pattern) => pattern.test(text))) return null;
  const lines = text.split(/\r?\n/).slice(-3).join(' / ');
  return new ClusterUnreachableError(clusterName, lines.startsWith('ssh: ') ? lines : `ssh: ${lines}`);
}

/**
 * Killing the local ssh only closes the channel, and sshd leaves a command without a terminal running: a quiet
 * `tail -f` would stay forever, holding one of the master connection's sessions. So the remote shell first
 * reports its pid on stderr and then becomes the command; a timeout or stop() kills that pid on the cluster.
 */
function reportingPid(argv: readonly string[]): string {
  return quoteArgv(['sh', '-c', 'echo "$$" >&2; exec "$@"', 'sh', ...argv]);
}

/** The pid line reportingPid put first on stderr, and the command's own stderr after it. */
export function splitPid(stderr: string): { pid: string | null; stderr: string } {
  const match = /^(\d+)\n/.exec(stderr);
  return match ? { pid: match[1]!, stderr: stderr.slice(match[0].length) } : { pid: null, stderr };
}

function retryNote(backoff: Backoff, now: () => number): string {
  const waitMs = backoff.remainingMs();
  return `next connection attempt in ${(waitMs / 1000).toFixed(1)} s (at ${new Date(now() + waitMs).toISOString()})`;
}

export function createOpensshTransport(cluster: OpensshClusterConfig, deps: OpensshTransportDeps = {}): StreamingTransport {
  if (cluster.hostKeyFingerprint) throw new ConfigError(`cluster "${cluster.name}": hostKeyFingerprint is not supported by transport: openssh; use knownHostsFile`);
  if (!cluster.host || !cluster.user) throw new ConfigError(`cluster "${cluster.name}": transport: openssh needs host and user`);
  const sshPath = deps.sshPath ?? 'ssh';
  const now = deps.now ?? Date.now;
  const limiter = createChannelLimiter(cluster.maxChannels);
  const backoff = createBackoff({ random: deps.random, now });
  const running: ChildSet = new Set();
  let lastFailure: ClusterUnreachableError | null = null;
  let controlDirReady: Promise<unknown> | null = null;
  let masterUp = false;
  let masterOpenedHere = false;
  let opening: Promise<void> | null = null;
  let closed = false;

  async function ssh(args: string[], options: { stdin?: string; timeoutMs: number }): Promise<ProcessResult> {
    try {
      return await runProcess(sshPath, args, options, running);
    } catch (error) {
      throw new ClusterUnreachableError(cluster.name, `cannot run ${sshPath}: ${(error as Error).message}`);
    }
  }

  async function masterRunning(): Promise<boolean> {
    const check = await ssh(sshControlArgs(cluster, 'check'), { timeoutMs: cluster.connectTimeoutMs });
    return check.exitCode === 0;
  }

  async function openMaster(): Promise<void> {
    const waitMs = backoff.remainingMs();
    if (waitMs > 0 && lastFailure) {
      throw new ClusterUnreachableError(cluster.name, `not reachable; ${retryNote(backoff, now)} after ${backoff.failures} failed attempt(s); last error: ${lastFailure.message}`);
    }
    if (await masterRunning()) {
      masterUp = true;
      deps.onConnect?.();
      return;
    }
    // Authenticating once here, alone, leaves the master (ControlPersist) that every later command joins; a burst
    // of first commands would otherwise each log in on its own.
    const login = await ssh(sshCommandArgs(cluster, 'true'), { timeoutMs: cluster.commandTimeoutMs });
    const failure = login.timedOut
      ? new ClusterUnreachableError(cluster.name, `ssh did not log in within ${cluster.commandTimeoutMs} ms`)
      : login.exitCode === 0
        ? null
        : (sshFailure(cluster.name, login.stderr) ?? new ClusterUnreachableError(cluster.name, `ssh exited ${login.exitCode}: ${login.stderr.trim()}`));
    if (failure) {
      lastFailure = failure;
      backoff.fail();
      throw failure;
    }
    lastFailure = null;
    backoff.succeed();
    masterUp = true;
    masterOpenedHere = true;
    deps.onConnect?.();
  }

  async function ready(): Promise<void> {
    if (closed) throw new ClusterUnreachableError(cluster.name, 'transport closed');
    controlDirReady ??= mkdir(controlDirectory(cluster), { recursive: true, mode: 0o700 });
    await controlDirReady;
    if (cluster.requireMaster) {
      // Never log in from here: the master is opened by a person (Duo, MFA); without one, say what to run.
      if (!(await masterRunning())) throw new ReauthRequiredError(cluster.name, reauthCommand(cluster));
      return;
    }
    if (masterUp) return;
    opening ??= openMaster().finally(() => {
      opening = null;
    });
    await opening;
  }

  /** An ssh-level failure of a command: the master may be gone, which for requireMaster means a person must log in. */
  async function failed(failure: ClusterUnreachableError): Promise<ClusterUnreachableError> {
    masterUp = false;
    if (cluster.requireMaster && !(failure instanceof HostKeyError) && !(await masterRunning().catch(() => false))) {
      return new ReauthRequiredError(cluster.name, reauthCommand(cluster));
    }
    return failure;
  }

  /** Best effort, in the background: the kill needs a channel of its own and may find the host gone. */
  function killRemote(pid: string | null) {
    if (!pid || !/^\d+$/.test(pid)) return;
    // sshd makes the session's shell a process group leader; when the login shell did not exec (and so the pid
    // is not the group's), the pid alone is signalled.
    const kill = quoteArgv(['sh', '-c', 'kill -TERM -- "-$1" 2>/dev/null || kill -TERM "$1"', 'sh', pid]);
    void limiter
      .acquire()
      .then((release) => ssh(sshCommandArgs(cluster, kill), { timeoutMs: cluster.connectTimeoutMs }).finally(release))
      .catch(() => {});
  }

  async function exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const command = reportingPid(argv);
    const timeoutMs = options.timeoutMs ?? cluster.commandTimeoutMs;
    const release = await limiter.acquire();
    try {
      const started = performance.now();
      await ready();
      const result = await ssh(sshCommandArgs(cluster, command), { stdin: options.stdin, timeoutMs });
      const { pid, stderr } = splitPid(result.stderr);
      if (result.timedOut) {
        killRemote(pid);
        throw new CommandTimeoutError(`${cluster.name}: ${argv[0]} did not finish within ${timeoutMs} ms`);
      }
      const failure = result.exitCode === 255 ? sshFailure(cluster.name, stderr) : null;
      if (failure) throw await failed(failure);
      return { stdout: result.stdout, stderr, exitCode: result.exitCode, durationMs: performance.now() - started };
    } finally {
      release();
    }
  }

  async function stream(argv: readonly string[], options: StreamOptions): Promise<StreamHandle> {
    const command = reportingPid(argv);
    const release = await limiter.acquire();
    let remotePid: string | null = null;
    let stderrHead = '';
    let stderrTail = '';
    let started;
    try {
      await ready();
      started = await streamProcess(
        sshPath,
        sshCommandArgs(cluster, command),
        {
          onStdout: options.onStdout,
          onStderr: (chunk) => {
            stderrTail = (stderrTail + chunk).slice(-4096);
            if (remotePid === null) {
              stderrHead += chunk;
              if (!stderrHead.includes('\n')) return;
              // No pid first: ssh itself is talking (it failed before the remote shell ran), so pass it all on.
              const { pid, stderr } = splitPid(stderrHead);
              remotePid = pid ?? '';
              chunk = stderr;
              stderrHead = '';
              if (!chunk) return;
            }
            options.onStderr?.(chunk);
          },
        },
        running,
      );
    } catch (error) {
      release();
      throw error instanceof ClusterUnreachableError ? error : new ClusterUnreachableError(cluster.name, `cannot run ${sshPath}: ${(error as Error).message}`);
    }
    const local = started;
    let ended = false;
    const done = local.ended.then(async ({ exitCode, error }) => {
      ended = true;
      release();
      if (error) return { exitCode, error };
      // ssh exits 255 on the SIGTERM of stop(); like the other transports, a stopped stream has no exit code.
      if (local.stopped) return { exitCode: null, error: null };
      const failure = exitCode === 255 ? sshFailure(cluster.name, stderrTail) : null;
      if (failure) return { exitCode: null, error: await failed(failure) };
      return { exitCode, error: null };
    });
    return {
      stop() {
        if (ended || local.stopped) return;
        local.stop();
        killRemote(remotePid);
      },
      done,
    };
  }

  return {
    exec,
    stream,
    async close() {
      closed = true;
      for (const child of running) child.kill('SIGKILL');
      // A master this transport opened with its own key goes with it; one a person opened (requireMaster) stays,
      // so a restart of the server does not cost them another Duo prompt.
      if (masterOpenedHere && !cluster.requireMaster) {
        await runProcess(sshPath, sshControlArgs(cluster, 'exit'), { timeoutMs: cluster.connectTimeoutMs }, new Set()).catch(() => {});
      }
    },
  };
}
