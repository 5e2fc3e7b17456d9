// One persistent ssh2 connection per cluster, opened on first use, with a cap on concurrent channels so a burst
// queues instead of hitting sshd's MaxSessions. The host key is always checked: unknown or changed is an error.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import type { ClusterConfig } from '../config.js';
import { ClusterUnreachableError, CommandTimeoutError, HostKeyError } from '../errors.js';
import { checkAgainstFingerprint, checkAgainstKnownHosts, fingerprintOf, knownHostsName, parseKnownHosts, type HostKeyVerdict } from './host-keys.js';
import { quoteArgv } from './quote.js';
import type { ExecOptions, ExecResult, Transport } from './transport.js';

type Ssh2ClusterConfig = Pick<
  ClusterConfig,
  'name' | 'host' | 'port' | 'user' | 'identityFile' | 'agent' | 'knownHostsFile' | 'hostKeyFingerprint' | 'connectTimeoutMs' | 'commandTimeoutMs' | 'keepaliveIntervalMs' | 'maxChannels'
>;

function createChannelLimiter(limit: number) {
  let active = 0;
  const waiting: Array<() => void> = [];
  return {
    async acquire(): Promise<() => void> {
      if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
      active++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        active--;
        waiting.shift()?.();
      };
    },
  };
}

export function createSsh2Transport(cluster: Ssh2ClusterConfig): Transport {
  const host = cluster.host!;
  let client: Client | null = null;
  let connecting: Promise<Client> | null = null;
  let closed = false;
  const limiter = createChannelLimiter(cluster.maxChannels);

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
    if (!privateKey && !agent) throw new ClusterUnreachableError(cluster.name, 'no identityFile and no ssh-agent socket (SSH_AUTH_SOCK) to authenticate with');

    return new Promise<Client>((resolve, reject) => {
      const connection = new Client();
      let hostKeyFailure: HostKeyError | null = null;
      let settled = false;
      const settle = (error: Error | null) => {
        if (settled) return; // ssh2 can report a second error after a handshake timeout
        settled = true;
        if (error) {
          connection.end();
          reject(error);
        } else {
          resolve(connection);
        }
      };
      const options: ConnectConfig = {
        host,
        port: cluster.port,
        username: cluster.user,
        privateKey,
        agent,
        readyTimeout: cluster.connectTimeoutMs,
        keepaliveInterval: cluster.keepaliveIntervalMs,
        keepaliveCountMax: 3,
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
      connection.on('ready', () => settle(null));
      connection.on('error', (error) => settle(hostKeyFailure ?? new ClusterUnreachableError(cluster.name, error.message)));
      connection.on('close', () => {
        settle(new ClusterUnreachableError(cluster.name, 'connection closed during handshake'));
        if (client === connection) client = null;
      });
      connection.connect(options);
    });
  }

  async function connection(): Promise<Client> {
    if (closed) throw new ClusterUnreachableError(cluster.name, 'transport closed');
    if (client) return client;
    connecting ??= connect().finally(() => {
      connecting = null;
    });
    client = await connecting;
    return client;
  }

  async function exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const command = quoteArgv(argv);
    const release = await limiter.acquire();
    try {
      const ssh = await connection();
      const started = performance.now();
      const timeoutMs = options.timeoutMs ?? cluster.commandTimeoutMs;
      return await new Promise<ExecResult>((resolve, reject) => {
        ssh.exec(command, (error: Error | undefined, channel: ClientChannel) => {
          if (error) {
            if (client === ssh && /not connected/i.test(error.message)) client = null;
            reject(new ClusterUnreachableError(cluster.name, error.message));
            return;
          }
          const stdout: Buffer[] = [];
          const stderr: Buffer[] = [];
          const timer = setTimeout(() => {
            channel.close();
            reject(new CommandTimeoutError(`${cluster.name}: ${argv[0]} did not finish within ${timeoutMs} ms`));
          }, timeoutMs);
          channel.on('data', (chunk: Buffer) => stdout.push(chunk));
          channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
          channel.on('close', (code: number | null | undefined) => {
            clearTimeout(timer);
            resolve({
              stdout: Buffer.concat(stdout).toString('utf8'),
              stderr: Buffer.concat(stderr).toString('utf8'),
              exitCode: typeof code === 'number' ? code : null,
              durationMs: performance.now() - started,
            });
          });
          if (options.stdin !== undefined) channel.end(options.stdin);
          else channel.end();
        });
      });
    } finally {
      release();
    }
  }

  return {
    exec,
    async close() {
      closed = true;
      const open = client ?? (await connecting?.catch(() => null));
      client = null;
      open?.end();
    },
  };
}
