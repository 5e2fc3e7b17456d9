import { afterEach, describe, expect, it } from 'vitest';
import { captureLogs } from '../lib/log.js';
import { createLocalTransport } from './local-transport.js';
import { observeTransport, type CommandRecord } from './observed-transport.js';

describe('observeTransport', () => {
  let capture: ReturnType<typeof captureLogs> | undefined;
  afterEach(() => capture?.stop());

  it('logs each command at debug with its kind, duration, exit code and byte counts, never its argv', async () => {
    capture = captureLogs('debug');
    const records: CommandRecord[] = [];
    const transport = observeTransport('here', { command: (record) => records.push(record) }, () => createLocalTransport({ name: 'here', commandTimeoutMs: 10_000 }));
    const result = await transport.exec(['sh', '-c', 'printf hello; printf oops >&2; exit 3', 'sh', '/secret/argument'], { kind: 'probe' });
    expect(result.exitCode).toBe(3);
    await transport.exec(['true']);
    await transport.close();

    expect(records.map(({ kind, exitCode, failed }) => ({ kind, exitCode, failed }))).toEqual([
      { kind: 'probe', exitCode: 3, failed: false },
      { kind: 'true', exitCode: 0, failed: false },
    ]);
    const entries = capture.entries();
    expect(entries[0]).toMatchObject({ level: 'debug', component: 'ssh', cluster: 'here', kind: 'probe', exitCode: 3, stdoutBytes: 5, stderrBytes: 4, msg: 'remote command' });
    expect(typeof entries[0]!.durationMs).toBe('number');
    expect(capture.lines.join('')).not.toMatch(/secret\/argument|printf/);
  });

  it('records a command that could not run as failed, and a stream when it ends, with its bytes', async () => {
    capture = captureLogs('debug');
    const records: CommandRecord[] = [];
    const transport = observeTransport('here', { command: (record) => records.push(record) }, () => createLocalTransport({ name: 'here', commandTimeoutMs: 200 }));
    await expect(transport.exec(['sleep', '5'], { kind: 'slow' })).rejects.toThrow(/did not finish/);
    const chunks: string[] = [];
    const handle = await transport.stream(['sh', '-c', 'printf "a\\nb\\n"'], { kind: 'log-follow', onStdout: (chunk) => chunks.push(chunk) });
    await handle.done;
    await transport.close();
    expect(chunks.join('')).toBe('a\nb\n');
    expect(records.map(({ kind, failed, exitCode }) => ({ kind, failed, exitCode }))).toEqual([
      { kind: 'slow', failed: true, exitCode: null },
      { kind: 'log-follow', failed: false, exitCode: 0 },
    ]);
    const ended = capture.entries().find((entry) => entry.kind === 'log-follow' && entry.msg === 'remote command');
    expect(ended).toMatchObject({ stdoutBytes: 4, exitCode: 0 });
  });

  it('tells of each connection the transport opens', () => {
    capture = captureLogs('info');
    const connected: string[] = [];
    let hooks: { onConnect?: () => void } = {};
    observeTransport('hpc', { connected: (cluster) => connected.push(cluster) }, (given) => {
      hooks = given;
      return createLocalTransport({ name: 'hpc', commandTimeoutMs: 1_000 });
    });
    hooks.onConnect?.();
    hooks.onConnect?.();
    expect(connected).toEqual(['hpc', 'hpc']);
    expect(capture.entries().map((entry) => entry.msg)).toEqual(['connected', 'reconnected']);
  });
});
