// One persistent ssh2 connection per cluster, opened on first use, with a cap on concurrent channels so a burst
// queues instead of hitting sshd's MaxSessions. The host key is always checked: unknown or changed is an error.
// A lost connection is reopened by the next use, paced by a backoff so a dead login node is not hammered.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Client, ClientChannel, ConnectConfig } from 'ssh2';
import { ClusterUnreachableError, CommandTimeoutError, HostKeyError } from '../errors.js';
import { createBackoff } from '../lib/backoff.js';
import { createChannelLimiter } from '../lib/channel-limiter.js';
import { checkAgainstFingerprint, checkAgainstKnownHosts, fingerprintOf, knownHostsName, parseKnownHosts, type HostKeyVerdict } from './host-keys.js';
import { quoteArgv } from './quote.js';
import { createStreamDelivery } from './stream-delivery.js';
import type { ConnectionSettings } from './connection.js';
import type { ConnectionHooks, ExecOptions, ExecResult, StreamHandle, StreamingTransport, StreamOptions } from './transport.js';

export type Ssh2ClusterConfig = Pick<
  ConnectionSettings,
  | 'name'
  | 'host'
  | 'port'
  | 'user'
  | 'identityFile'
  | 'agent'
  | 'passwordFile'
  | 'knownHostsFile'
  | 'hostKeyFingerprint'
  | 'connectTimeoutMs'
  | 'commandTimeoutMs'
  | 'keepaliveIntervalMs'
  | 'keepaliveCountMax'
  | 'maxChannels'
>;

export interface Ssh2TransportDeps extends ConnectionHooks {
  /** For the reconnect backoff: a number in [0, 1) and the clock; tests fix both. */
  random?: () => number;
  now?: () => number;
}

/** How long a closed channel may keep its slot while sshd has not confirmed the close (the command ignored its signal). */
const CLOSE_GRACE_MS = 10_000;

/**
 * Each keyboard-interactive prompt gets the next line of the password file, the last line answering any further
 * prompts: one line is a password; "password" then "push" also answers a Duo menu.
 */
function promptAnswers(lines: string[]) {
  let next = 0;
  return (count: number): string[] =>
    Array.from({ length: count }, () => {
      const answer = lines[Math.min(next, lines.length - 1)] ?? '';
      next++;
      return answer;
    });
}

/**
 * channel.signal() sends nothing once our side has sent EOF (ssh2 checks `writable`), and every command here
 * has: exec ends stdin at once. The protocol allows a signal request after EOF, so it is sent through ssh2's
 * protocol object (1.17.0; the unit test against an ssh2 server fails if an upgrade moves it).
 */
function sendSignal(channel: ClientChannel, signal: 'TERM' | 'KILL') {
  const internals = channel as unknown as {
    outgoing?: { id?: number; state?: string };
    _client?: { _protocol?: { signal?: (id: number, signal: string) => void } };
  };
  const { outgoing } = internals;
  const protocol = internals._client?._protocol;
  if (outgoing?.id === undefined || (outgoing.state !== 'open' && outgoing.state !== 'eof') || typeof protocol?.signal !== 'function') return;
  try {
    protocol.signal(outgoing.id, signal);
  } catch {
    // The connection is going away; the close that follows is all that is left to do.
  }
}

export function createSsh2Transport(cluster: Ssh2ClusterConfig, deps: Ssh2TransportDeps = {}): StreamingTransport {
  const host = cluster.host!;
  const now = deps.now ?? Date.now;
  let client: Client | null = null;
  let connecting: Promise<Client> | null = null;
  let closed = false;
  const limiter = createChannelLimiter(cluster.maxChannels);
  const backoff = createBackoff({ baseMs: 1000, capMs: 60_000, random: deps.random, now });
  let lastFailure: ClusterUnreachableError | null = null;
  const channelsOn = new WeakMap<Client, number>();
  const retired = new WeakSet<Client>();

  async function hostKeyCheck(): Promise<(key: Buffer) => HostKeyVerdict> {
    if (cluster.hostKeyFingerprint) {
      const pinned = cluster.hostKeyFingerprint;
      return (key) => checkAgainstFingerprint(pinned, key);
    }
    const file = cluster.knownHostsFile ?? join(homedir(), '.ssh', 'known_hosts');
    const entries = parseKnownHosts(await readFile(file, 'utf8').catch(() => ''));
    const name = knownHostsName(host, cluster.port);
    return (key) => checkAgainstKnownHosts(entries, name, key);
  }

  async function connect(): Promise<Client> {
    const check = await hostKeyCheck();
    const privateKey = cluster.identityFile ? await readFile(cluster.identityFile) : undefined;
    const agent = cluster.agent === true ? process.env.SSH_AUTH_SOCK : cluster.agent || undefined;
    // Read at each connect, so a changed password applies at the next login; it is sent only to this sshd.
    const passwordLines = cluster.passwordFile ? (await readFile(cluster.passwordFile, 'utf8')).replace(/\r?\n$/, '').split(/\r?\n/) : undefined;
    if (!privateKey && !agent && !passwordLines) {
      throw new ClusterUnreachableError(cluster.name, 'no identityFile, passwordFile or ssh-agent socket (SSH_AUTH_SOCK) to authenticate with');
    }
    // Keys before secrets: a server that accepts the key never sees the password.
    const methods: Array<'publickey' | 'agent' | 'keyboard-interactive' | 'password'> = [];
    if (privateKey) methods.push('publickey');
    if (agent) methods.push('agent');
    if (passwordLines) methods.push('keyboard-interactive', 'password');
    // Loaded at the first connection, not at import: the server answers its first request before any cluster is asked.
    const ssh2 = await import('ssh2');

    return new Promise<Client>((resolve, reject) => {
      const connection = new ssh2.Client();
      let hostKeyFailure: HostKeyError | null = null;
      let settled = false;
      const settle = (error: Error | null) => {
        if (settled) return; // ssh2 can report a second error after a handshake timeout
        settled = true;
        if (error) {
          connection.end();
          reject(error);
        } else {
          deps.onConnect?.();
          resolve(connection);
        }
      };
      const answers = promptAnswers(passwordLines ?? []);
      const options: ConnectConfig = {
        host,
        port: cluster.port,
        username: cluster.user,
        privateKey,
        agent,
        password: passwordLines?.[0],
        tryKeyboard: Boolean(passwordLines),
        authHandler: methods,
        readyTimeout: cluster.connectTimeoutMs,
        keepaliveInterval: cluster.keepaliveIntervalMs,
        keepaliveCountMax: cluster.keepaliveCountMax,
        hostVerifier: (key: Buffer) => {
          const verdict = check(key);
          if (verdict.ok) return true;
          const fingerprint = fingerprintOf(key);
          hostKeyFailure = new HostKeyError(
            cluster.name,
            fingerprint,
            verdict.changed,
            verdict.changed
              ? `host key REFUSED: ${verdict.reason}; presented ${fingerprint}. If the cluster's key really changed, update known_hosts or hostKeyFingerprint.`
              : `unknown host key ${fingerprint}: ${verdict.reason}. Confirm it with the cluster's admins, then add it to known_hosts or set hostKeyFingerprint.`,
          );
          return false;
        },
      };
      connection.on('keyboard-interactive', (_name, _instructions, _language, prompts, finish) => finish(answers(prompts.length)));
      connection.on('ready', () => settle(null));
      connection.on('error', (error) => settle(hostKeyFailure ?? new ClusterUnreachableError(cluster.name, error.message)));
      connection.on('close', () => {
        settle(new ClusterUnreachableError(cluster.name, 'connection closed during handshake'));
        if (client === connection) client = null;
      });
      connection.connect(options);
    });
  }

  /** The error of a call made while backing off: the last failure's kind and text, and when the next try is. */
  function backingOff(waitMs: number, last: ClusterUnreachableError): ClusterUnreachableError {
    const detail = `${last.message.slice(cluster.name.length + 2)} (not retrying yet: ${backoff.failures} failed attempt(s); next connection attempt in ${(waitMs / 1000).toFixed(1)} s, at ${new Date(now() + waitMs).toISOString()})`;
    return last instanceof HostKeyError ? new HostKeyError(cluster.name, last.fingerprint, last.changed, detail) : new ClusterUnreachableError(cluster.name, detail);
  }

  async function connection(): Promise<Client> {
    if (closed) throw new ClusterUnreachableError(cluster.name, 'transport closed');
    if (client) return client;
    if (!connecting) {
      const waitMs = backoff.remainingMs();
      if (waitMs > 0 && lastFailure) throw backingOff(waitMs, lastFailure);
      connecting = connect()
        .then(
          (opened) => {
            backoff.succeed();
            lastFailure = null;
            client = opened;
            return opened;
          },
          (error: unknown) => {
            backoff.fail();
            lastFailure = error instanceof ClusterUnreachableError ? error : new ClusterUnreachableError(cluster.name, (error as Error).message);
            throw lastFailure;
          },
        )
        .finally(() => {
          connecting = null;
        });
    }
    return connecting;
  }

  /** Exit statuses of open channels, recorded from the moment each channel opened (see openChannel). */
  const exitStatuses = new WeakMap<ClientChannel, number | null>();

  /**
   * Opens a session channel running the command. A connection found dead before the channel opened (the command
   * never started) is replaced once; a refused channel leaves the connection as it is.
   */
  async function openChannel(command: string): Promise<ClientChannel> {
    for (let attempt = 0; ; attempt++) {
      const ssh = await connection();
      try {
        const channel = await new Promise<ClientChannel>((resolve, reject) => {
          try {
            ssh.exec(command, (error: Error | undefined, opened: ClientChannel) => {
              if (error) return reject(error);
              // A quick command's exit status can come in the same read as the channel's confirmation; ssh2 emits it
              // before the caller, a promise continuation later, could listen, and the command would look cut off.
              opened.once('exit', (code: number | null) => exitStatuses.set(opened, code ?? null));
              resolve(opened);
            });
          } catch (error) {
            reject(error as Error); // "Not connected" is thrown, not passed to the callback
          }
        });
        channelsOn.set(ssh, (channelsOn.get(ssh) ?? 0) + 1);
        channel.once('close', () => {
          const left = (channelsOn.get(ssh) ?? 1) - 1;
          channelsOn.set(ssh, left);
          if (left === 0 && retired.has(ssh)) ssh.end();
        });
        return channel;
      } catch (error) {
        const message = (error as Error).message;
        if (/^(Not connected|No response from server)$/.test(message)) {
          if (client === ssh) client = null;
          ssh.end();
          if (attempt === 0 && !closed) continue;
          throw new ClusterUnreachableError(cluster.name, `connection lost before the command started (${message})`);
        }
        if (/Channel open failure/.test(message)) {
          throw new ClusterUnreachableError(cluster.name, `${message}: sshd refused another session on the open connection (is its MaxSessions below maxChannels, ${cluster.maxChannels}?); the connection stays open`);
        }
        if (message === 'Unable to exec') {
          // The session opened but sshd would not start the command: seen when the connection's privileged sshd
          // process died and its unprivileged half still answers (keepalives too). Such a connection never recovers.
          retire(ssh);
          throw new ClusterUnreachableError(cluster.name, `${message}: sshd opened a session but would not run the command; the next command uses a new connection`);
        }
        throw new ClusterUnreachableError(cluster.name, message);
      }
    }
  }

  /**
   * openChannel, within the command's time: on a hung login node the open connection takes nothing and answers
   * nothing, and without a bound a command would wait for the keepalive to give the connection up (a minute and
   * more) before even trying a new one. A channel that opens after all is closed at once, its command killed.
   */
  async function openChannelWithin(command: string, timeoutMs: number, name: string): Promise<ClientChannel> {
    const opening = openChannel(command);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new CommandTimeoutError(`${cluster.name}: ${name} did not start within ${timeoutMs} ms: the connection answers nothing; the next command uses a new one`)), timeoutMs);
    });
    try {
      return await Promise.race([opening, deadline]);
    } catch (error) {
      if (error instanceof CommandTimeoutError) {
        if (client) retire(client);
        opening.then((late) => endRemote(late, 'KILL'), () => undefined);
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Takes a connection out of use; it is ended once the commands still running on it are done. */
  function retire(ssh: Client) {
    if (client === ssh) client = null;
    retired.add(ssh);
    if (!channelsOn.get(ssh)) ssh.end();
  }

  /**
   * Ends the remote command, not only the channel: sshd keeps a session without a terminal (and its MaxSessions
   * slot) until the command exits, so a close alone would leave `sleep`, `tail -f` and the like running. sshd
   * delivers the signal to the session's whole process group.
   */
  function endRemote(channel: ClientChannel, signal: 'TERM' | 'KILL') {
    sendSignal(channel, signal);
    channel.close();
  }

  async function exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const command = quoteArgv(argv);
    const timeoutMs = options.timeoutMs ?? cluster.commandTimeoutMs;
    const release = await limiter.acquire();
    const started = performance.now();
    let channel: ClientChannel;
    try {
      channel = await openChannelWithin(command, timeoutMs, argv[0] ?? 'the command');
    } catch (error) {
      release();
      throw error;
    }
    return new Promise<ExecResult>((resolve, reject) => {
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        reject(new CommandTimeoutError(`${cluster.name}: ${argv[0]} did not finish within ${timeoutMs} ms`));
        endRemote(channel, 'KILL');
        // The slot is freed when sshd confirms the close; if that never comes, after the grace period anyway.
        setTimeout(release, CLOSE_GRACE_MS).unref();
      }, Math.max(0, timeoutMs - (performance.now() - started)));
      channel.on('data', (chunk: Buffer) => stdout.push(chunk));
      channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      channel.on('close', () => {
        clearTimeout(timer);
        release();
        if (timedOut) return;
        const exitCode = exitStatuses.get(channel);
        if (exitCode === undefined) {
          // No exit status: the connection went away under the command, which may or may not have run to the end.
          reject(new ClusterUnreachableError(cluster.name, `the connection was lost while ${argv[0]} ran; it may or may not have completed`));
          return;
        }
        resolve({
          stdout: Buffer.concat(stdout).toString('utf8'),
          stderr: Buffer.concat(stderr).toString('utf8'),
          exitCode,
          durationMs: performance.now() - started,
        });
      });
      if (options.stdin !== undefined) channel.end(options.stdin);
      else channel.end();
    });
  }

  async function stream(argv: readonly string[], options: StreamOptions): Promise<StreamHandle> {
    const command = quoteArgv(argv);
    const release = await limiter.acquire();
    let channel: ClientChannel;
    try {
      channel = await openChannel(command);
    } catch (error) {
      release();
      throw error;
    }
    channel.end();
    let stopped = false;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      endRemote(channel, 'TERM');
      const kill = setTimeout(() => endRemote(channel, 'KILL'), 2000);
      kill.unref();
      channel.once('close', () => clearTimeout(kill));
      setTimeout(release, CLOSE_GRACE_MS).unref();
    };
    const delivery = createStreamDelivery(options, stop);
    channel.on('data', delivery.stdout);
    channel.stderr.on('data', delivery.stderr);
    const done = new Promise<{ exitCode: number | null; error: Error | null }>((resolve) => {
      channel.on('close', () => {
        release();
        const exitCode = exitStatuses.get(channel);
        const callbackError = delivery.end();
        if (callbackError) resolve({ exitCode: exitCode ?? null, error: callbackError });
        else if (exitCode === undefined && !stopped) resolve({ exitCode: null, error: new ClusterUnreachableError(cluster.name, `the connection was lost while ${argv[0]} ran`) });
        else resolve({ exitCode: exitCode ?? null, error: null });
      });
    });
    return { stop, done };
  }

  return {
    exec,
    stream,
    async close() {
      closed = true;
      const open = client ?? (await connecting?.catch(() => null));
      client = null;
      open?.end();
    },
  };
}
