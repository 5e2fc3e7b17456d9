// Array steering against outputs recorded on the lab (test/fixtures/slurm/arrays-*.txt and the array fixtures of
// the poll), through a fake transport that keeps every argv; the throttle script also runs once through a real
// /bin/sh with a stand-in scontrol on PATH.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SlurmError, ValidationError } from '../errors.js';
import { standInShell } from '../../test/stand-in-shell.js';
import type { ExecResult, Transport } from '../ssh/index.js';
import {
  DEFAULT_MAX_ARRAY_SIZE,
  arrayJobIdOf,
  cancelArrays,
  parseMaxArraySize,
  parseThrottleReplies,
  readMaxArraySize,
  scancelFailures,
  setArrayThrottle,
  throttleFailures,
} from './arrays.js';

const recorded = (name: string) => readFileSync(new URL(`../../test/fixtures/slurm/${name}`, import.meta.url), 'utf8');

function fakeTransport(answer: Partial<ExecResult>) {
  const calls: string[][] = [];
  const transport: Transport = {
    async exec(argv) {
      calls.push([...argv]);
      return { stdout: '', stderr: '', exitCode: 0, durationMs: 1, ...answer };
    },
    async close() {},
  };
  return { transport, calls };
}

const caught = (promise: Promise<unknown>) => promise.then(() => null, (error: unknown) => error);

describe('MaxArraySize', () => {
  const config = recorded('arrays-scontrol-show-config.txt');
  const withValue = (value: string) => config.replace(/^MaxArraySize .*$/m, `MaxArraySize            = ${value}`);
  const withoutLine = config.replace(/^MaxArraySize .*\n/m, '');

  it('reads it from the recorded scontrol show config with one remote command', async () => {
    expect(parseMaxArraySize(config)).toBe(1001);
    const { transport, calls } = fakeTransport({ stdout: withValue('40001') });
    expect(await readMaxArraySize(transport)).toBe(40001);
    expect(calls).toEqual([['scontrol', 'show', 'config']]);
  });

  it('keeps 0 (arrays disabled) and falls back to SLURM\'s default only when the line is absent', async () => {
    expect(parseMaxArraySize(withValue('0'))).toBe(0);
    expect(await readMaxArraySize(fakeTransport({ stdout: withValue('0') }).transport)).toBe(0);
    expect(withoutLine).not.toContain('MaxArraySize');
    expect(parseMaxArraySize(withoutLine)).toBeNull();
    expect(await readMaxArraySize(fakeTransport({ stdout: withoutLine }).transport)).toBe(DEFAULT_MAX_ARRAY_SIZE);
  });

  it('refuses a value that is no size SLURM allows rather than guessing', async () => {
    for (const value of ['4000002', '-1', '1e3', '', 'UNLIMITED', '99999999999999999999']) {
      expect(parseMaxArraySize(withValue(value))).toBeNull();
      const error = await caught(readMaxArraySize(fakeTransport({ stdout: withValue(value) }).transport));
      expect(error).toBeInstanceOf(SlurmError);
      expect(String(error)).toContain('MaxArraySize is not a size');
    }
    expect(parseMaxArraySize(withValue('4000001'))).toBe(4000001);
  });

  it('is a SlurmError when scontrol fails', async () => {
    // Hand-written from test/lab's fault notes (/work/shared/SLURM-LAB.md): the controller cannot be stopped here.
    const stderr = 'slurm_load_ctl_conf error: Unable to contact slurm controller (connect failure)\n';
    await expect(readMaxArraySize(fakeTransport({ exitCode: 1, stderr }).transport)).rejects.toMatchObject({ name: 'SlurmError', exitCode: 1, stderr });
  });
});

describe('arrayJobIdOf', () => {
  it('gives the array of every id squeue and sacct printed for the recorded arrays', () => {
    const ids = [...recorded('squeue-array-tasks.txt').split('\n'), ...recorded('sacct-array-tasks.txt').split('\n')]
      .map((line) => line.split('|')[0]!)
      .filter((id) => id !== '' && !id.includes('.'));
    expect(ids).toEqual(expect.arrayContaining(['2083', '2083_2', '2083_[4-9%2]', '2085_[0-200:2%1]', '2086_[0-999%64]']));
    for (const id of ids) expect(arrayJobIdOf(id)).toBe(/^\d+/.exec(id)![0]);
  });

  it('refuses what is not a job, task or folded record, naming the field', () => {
    const cut = recorded('squeue-array-cut.txt').split('|')[0]!;
    expect(cut).toMatch(/^2090_\[[^\]]*$/);
    for (const id of ['', 'abc', '123_', '_4', '123+0', '123.batch', ' 123', '12345678901', '4294967296_1', cut]) {
      const error = (() => {
        try {
          return arrayJobIdOf(id);
        } catch (thrown) {
          return thrown;
        }
      })();
      expect(error, id).toBeInstanceOf(ValidationError);
      expect(error).toMatchObject({ field: 'slurmJobId' });
    }
  });
});

describe('cancelArrays', () => {
  it('is one scancel with the ids after --, and --state=PENDING for pending tasks only', async () => {
    const all = fakeTransport({});
    await cancelArrays(all.transport, ['2793', '2794_1'], false);
    expect(all.calls).toEqual([['scancel', '--', '2793', '2794_1']]);
    const pending = fakeTransport({});
    await cancelArrays(pending.transport, ['2793', '2794'], true);
    expect(pending.calls).toEqual([['scancel', '--state=PENDING', '--', '2793', '2794']]);
  });

  it('takes arrays that already ended as done: scancel --state=PENDING exits 1 for them (recorded)', async () => {
    const stderr = recorded('arrays-scancel-pending-ended.txt');
    expect(scancelFailures(stderr, ['2792', '2793', '99999999'])).toEqual([]);
    await cancelArrays(fakeTransport({ exitCode: 1, stderr }).transport, ['2792', '2793', '99999999'], true);
    // The same words about an id we did not ask for are not ours to excuse.
    expect(scancelFailures(stderr, ['2792'])).toEqual(['scancel: error: Kill job error on job id 99999999: Invalid job id specified']);
    await expect(cancelArrays(fakeTransport({ exitCode: 1, stderr }).transport, ['2792'], true)).rejects.toBeInstanceOf(SlurmError);
  });

  it('is a SlurmError with scancel\'s words when SLURM refuses (recorded: another user\'s array)', async () => {
    const stderr = recorded('arrays-scancel-denied.txt');
    expect(scancelFailures(stderr, ['2800'])).toHaveLength(2);
    await expect(cancelArrays(fakeTransport({ exitCode: 210, stderr }).transport, ['2800'], false)).rejects.toMatchObject({ name: 'SlurmError', command: 'scancel', exitCode: 210, stderr });
    await expect(cancelArrays(fakeTransport({ exitCode: 1, stderr: '' }).transport, ['2800'], false)).rejects.toBeInstanceOf(SlurmError);
    await expect(cancelArrays(fakeTransport({ exitCode: null, stderr: '' }).transport, ['2800'], false)).rejects.toBeInstanceOf(SlurmError);
  });

  it('refuses a bad id before anything runs, and a task id when only pending tasks are to go', async () => {
    for (const [ids, onlyPending] of [[['2793', '12;rm -rf ~'], false], [['-1'], false], [['2793_[1-3]'], false], [['--state=RUNNING'], false], [['2793_4'], true], [['99999999999'], false]] as const) {
      const { transport, calls } = fakeTransport({});
      const error = await caught(cancelArrays(transport, [...ids], onlyPending));
      expect(error, ids.join(' ')).toBeInstanceOf(ValidationError);
      expect(error).toMatchObject({ field: 'arrayJobIds' });
      expect(calls).toEqual([]);
    }
    const none = fakeTransport({});
    await cancelArrays(none.transport, [], true);
    expect(none.calls).toEqual([]);
  });
});

describe('setArrayThrottle', () => {
  it('reads the recorded replies: set on a live array, no task left, ended, purged: none of them fails', async () => {
    const stdout = recorded('arrays-throttle-replies.txt');
    const replies = parseThrottleReplies(stdout);
    expect(replies.map(({ arrayJobId, exitCode }) => [arrayJobId, exitCode])).toEqual([
      ['2793', 1],
      ['2794', 0],
      ['2792', 1],
      ['2779', 1],
      ['2083', 1],
    ]);
    expect(replies[0]!.lines).toEqual(['2793_0: Job has already finished', '2793_1-7: No error']);
    expect(replies[1]!.lines).toEqual([]);
    expect(throttleFailures(replies, ['2793', '2794', '2792', '2779', '2083'])).toEqual([]);

    const { transport, calls } = fakeTransport({ stdout });
    await setArrayThrottle(transport, ['2793', '2794', '2792', '2779', '2083'], 3);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.slice(0, 2)).toEqual(['sh', '-c']);
    expect(calls[0]!.slice(3)).toEqual(['sh', '3', '2793', '2794', '2792', '2779', '2083']);
  });

  it('is a SlurmError naming the array and SLURM\'s words when a reply is a refusal (recorded) or missing', async () => {
    const denied = recorded('arrays-throttle-denied.txt');
    const error = await caught(setArrayThrottle(fakeTransport({ stdout: denied }).transport, ['2800'], 2));
    expect(error).toBeInstanceOf(SlurmError);
    expect(String(error)).toContain('2800: 2800_0-3: Invalid user id');

    const cut = recorded('arrays-throttle-replies.txt').split('--mission-control-- 2083')[0]!;
    await expect(setArrayThrottle(fakeTransport({ stdout: cut }).transport, ['2793', '2083'], 3)).rejects.toThrow('2083: no answer from scontrol');
    expect(throttleFailures([{ arrayJobId: '7', exitCode: 1, lines: [] }], ['7'])).toEqual(['7: exit 1 without a message']);
    await expect(setArrayThrottle(fakeTransport({ exitCode: 127, stderr: 'sh: 1: scontrol: not found' }).transport, ['7'], 3)).rejects.toBeInstanceOf(SlurmError);
  });

  it('refuses task ids and throttles that are not 0..4000001 before anything runs', async () => {
    for (const [ids, max, field] of [[['2793_4'], 3, 'arrayJobIds'], [['abc'], 3, 'arrayJobIds'], [['2793'], -1, 'maxRunning'], [['2793'], 1.5, 'maxRunning'], [['2793'], Number.NaN, 'maxRunning'], [['2793'], 4_000_002, 'maxRunning']] as const) {
      const { transport, calls } = fakeTransport({});
      const error = await caught(setArrayThrottle(transport, [...ids], max));
      expect(error, `${ids} ${max}`).toBeInstanceOf(ValidationError);
      expect(error).toMatchObject({ field });
      expect(calls).toEqual([]);
    }
    const unlimited = fakeTransport({ stdout: '--mission-control-- 2793 0\n\n' });
    await setArrayThrottle(unlimited.transport, ['2793'], 0);
    expect(unlimited.calls[0]!.slice(4)).toEqual(['0', '2793']);
  });
});

describe('the throttle script, through a real shell', () => {
  const { root, bin, shell, close } = standInShell('mc-slurm-arrays-');
  afterAll(async () => {
    await close();
  });

  it('runs scontrol once per array with its own id and keeps each reply, stderr included, under its id', async () => {
    // The stand-in answers as the lab's scontrol did: a live array with a finished task (exit 1), a running one
    // (silent), a purged one (on stderr), another user's (refused).
    writeFileSync(
      join(bin, 'scontrol'),
      `#!/bin/sh
echo "$@" >> "${root}/calls"
case "$2" in
  JobId=11) echo "11_0: Job has already finished"; echo "11_1-7: No error"; exit 1 ;;
  JobId=12) exit 0 ;;
  JobId=13) echo "Invalid job id specified for job 13" >&2; exit 1 ;;
  JobId=14) echo "14_0-3: Invalid user id" >&2; exit 1 ;;
esac
`,
    );
    chmodSync(join(bin, 'scontrol'), 0o755);

    const error = await caught(setArrayThrottle(shell, ['11', '12', '13', '14'], 5));
    expect(readFileSync(join(root, 'calls'), 'utf8')).toBe(['11', '12', '13', '14'].map((id) => `update JobId=${id} ArrayTaskThrottle=5\n`).join(''));
    expect(error).toBeInstanceOf(SlurmError);
    expect((error as SlurmError).stderr).toBe('14: 14_0-3: Invalid user id');

    await setArrayThrottle(shell, ['11', '12', '13'], 0);
  });
});
