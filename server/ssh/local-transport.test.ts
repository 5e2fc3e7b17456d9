import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CommandTimeoutError } from '../errors.js';
import { createLocalTransport } from './local-transport.js';

const local = createLocalTransport({ name: 'here', commandTimeoutMs: 5000 });
/** Running, not merely a zombie waiting for whoever inherited it to reap it. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('local transport', () => {
  it('runs argv through /bin/sh unchanged, with stdin', async () => {
    const hostile = ['$(echo no)', "it's", '', '*', 'a\nb'];
    expect((await local.exec(['printf', '%s\\0', ...hostile])).stdout.split('\0').slice(0, -1)).toEqual(hostile);
    expect(await local.exec(['cat'], { stdin: 'fed' })).toMatchObject({ stdout: 'fed', exitCode: 0 });
    expect(await local.exec(['sh', '-c', 'echo bad >&2; exit 3'])).toMatchObject({ stderr: 'bad\n', exitCode: 3 });
  });

  it('at the timeout ends the whole command, children included', async () => {
    const started = Date.now();
    // The background sleep holds the output pipe: killing only the shell would leave the call waiting for it.
    await expect(local.exec(['sh', '-c', 'sleep 30 & echo $!; wait'], { timeoutMs: 300 })).rejects.toThrow(CommandTimeoutError);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('streams output as it comes and stop() ends the process group', async () => {
    const started = Date.now();
    const arrivals: number[] = [];
    const lines = await local.stream(['sh', '-c', 'for i in 1 2 3; do echo $i; sleep 0.2; done'], { onStdout: () => arrivals.push(Date.now() - started) });
    expect(await lines.done).toEqual({ exitCode: 0, error: null });
    expect(arrivals[0]).toBeLessThan(300);

    let childPid = 0;
    const handle = await local.stream(['sh', '-c', 'sleep 60 & echo $!; wait'], { onStdout: (chunk) => (childPid = Number(chunk.trim())) });
    await expect.poll(() => childPid).toBeGreaterThan(0);
    handle.stop();
    expect(await handle.done).toEqual({ exitCode: null, error: null });
    await expect.poll(() => alive(childPid)).toBe(false);
  });

  it('a consumer that throws ends its stream instead of the server', async () => {
    const handle = await local.stream(['sh', '-c', 'echo 1; sleep 30'], {
      onStdout: () => {
        throw new Error('consumer broke');
      },
    });
    expect(await handle.done).toMatchObject({ exitCode: null, error: { message: 'consumer broke' } });
  });
});
