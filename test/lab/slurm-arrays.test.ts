// Steering real job arrays on the lab through its sshd: the array size limit, a throttle raised on a running array,
// pending tasks cancelled while running ones go on, one task cancelled, the whole array cancelled, and every call
// again once the array has ended (which must not be an error). Other suites may use the lab at the same time, so
// only what the throttle guarantees is asserted (SLURM's fold shows it; never more tasks run than it allows).
import { afterAll, describe, expect, it } from 'vitest';
import { arrayJobIdOf, cancelArrays, readMaxArraySize, setArrayThrottle } from '../../server/slurm/arrays.js';
import { createSsh2Transport } from '../../server/ssh/ssh2-transport.js';
import { labClusterConfig, labForSuite, onLab } from './lab-env.js';

const lab = labForSuite('lab SLURM arrays suite');

const FINAL = ['COMPLETED', 'CANCELLED', 'FAILED', 'TIMEOUT', 'PREEMPTED', 'NODE_FAIL', 'OUT_OF_MEMORY'];

describe.skipIf(!lab)('job arrays on the lab', () => {
  const transport = lab ? createSsh2Transport(labClusterConfig(lab)) : null!;
  const submitted: string[] = [];

  afterAll(async () => {
    if (submitted.length > 0) await transport.exec(['scancel', '--', ...submitted]);
    await transport?.close();
  });

  async function submitArray(array: string, command: string): Promise<string> {
    const result = await transport.exec(['sbatch', '--parsable', '-p', 'cpu,gpu', '--mem=10M', '-o', '/dev/null', '-J', 'mc-arrays-test', `--array=${array}`, '--wrap', command]);
    expect(result.exitCode, result.stderr).toBe(0);
    const id = result.stdout.trim();
    expect(id).toMatch(/^\d+$/);
    submitted.push(id);
    return id;
  }

  /** squeue's records of an array, as it prints them (running tasks one by one, pending ones folded). */
  async function queue(arrayJobId: string): Promise<Map<string, string>> {
    const result = await transport.exec(['env', 'SLURM_BITSTR_LEN=0', 'squeue', '-h', '-t', 'all', '-j', arrayJobId, '-o', '%i|%T']);
    expect(result.exitCode, result.stderr).toBe(0);
    const records = new Map<string, string>();
    for (const line of result.stdout.split('\n').filter(Boolean)) {
      const [id, state] = line.split('|');
      expect(arrayJobIdOf(id!)).toBe(arrayJobId);
      records.set(id!, state!);
    }
    return records;
  }

  const ids = (records: Map<string, string>, state: string) => [...records].filter(([, s]) => s === state).map(([id]) => id);

  it('reads MaxArraySize as the controller states it', async () => {
    const stated = onLab(lab!, `scontrol show config | sed -n 's/^MaxArraySize *= *//p'`).stdout.trim();
    expect(stated).toMatch(/^\d+$/);
    expect(await readMaxArraySize(transport)).toBe(Number(stated));
  });

  it('raises the throttle of a running array, cancels only its pending tasks, then one task, then all of it', { timeout: 60_000 }, async () => {
    const array = await submitArray('0-5%1', 'sleep 30');
    // A second array whose tasks end quickly: its throttle is changed while some of its tasks have finished, where
    // scontrol exits 1 ("Job has already finished") although the change is made.
    const quick = await submitArray('0-9%1', 'sleep 2');

    await expect.poll(async () => ids(await queue(array), 'RUNNING'), { timeout: 20_000, interval: 500 }).toEqual([`${array}_0`]);
    expect([...(await queue(array)).keys()]).toContain(`${array}_[1-5%1]`);

    await setArrayThrottle(transport, [array], 3);
    await expect.poll(async () => [...(await queue(array)).keys()].some((id) => /^\d+_\[[\d,-]+%3\]$/.test(id)), { timeout: 10_000, interval: 500 }).toBe(true);
    // More than one task now runs (the lab may be busy, so not necessarily three), never more than three.
    await expect.poll(async () => ids(await queue(array), 'RUNNING').length, { timeout: 20_000, interval: 500 }).toBeGreaterThan(1);
    expect(ids(await queue(array), 'RUNNING').length).toBeLessThanOrEqual(3);

    await cancelArrays(transport, [array], true);
    let records = await queue(array);
    await expect.poll(async () => ids((records = await queue(array)), 'PENDING'), { timeout: 10_000, interval: 500 }).toEqual([]);
    const running = ids(records, 'RUNNING');
    expect(running.length).toBeGreaterThan(1);
    // Tasks that never started leave the queue as the array's own record, cancelled.
    expect(records.get(array)).toBe('CANCELLED');

    const [gone, ...kept] = running;
    await cancelArrays(transport, [gone!], false);
    await expect.poll(async () => (await queue(array)).get(gone!), { timeout: 10_000, interval: 500 }).toBe('CANCELLED');
    for (const id of kept) expect((await queue(array)).get(id)).toBe('RUNNING');

    await cancelArrays(transport, [array], false);
    await expect.poll(async () => [...(await queue(array)).values()].every((state) => FINAL.includes(state)), { timeout: 15_000, interval: 500 }).toBe(true);

    // The throttle of an array with finished tasks and pending ones.
    await expect.poll(async () => ids(await queue(quick), 'COMPLETED').length, { timeout: 20_000, interval: 500 }).toBeGreaterThan(0);
    await setArrayThrottle(transport, [quick], 2);
    await expect.poll(async () => [...(await queue(quick)).keys()].some((id) => /^\d+_\[[\d,-]+%2\]$/.test(id)), { timeout: 10_000, interval: 500 }).toBe(true);
    await cancelArrays(transport, [quick], false);
    await expect.poll(async () => [...(await queue(quick)).values()].every((state) => FINAL.includes(state)), { timeout: 15_000, interval: 500 }).toBe(true);

    // Every call again on arrays that have ended: nothing left to do, not an error. `scancel --state=PENDING` exits 1
    // here and scontrol answers "Job has already finished"; an id never used answers "Invalid job id specified".
    const stillPending = onLab(lab!, `scancel --state=PENDING -- ${array} 2>&1; echo "exit $?"`).stdout;
    expect(stillPending).toBe(`scancel: error: Kill job error on job id ${array}: Invalid job id specified\nexit 1\n`);
    await cancelArrays(transport, [array, quick], true);
    await cancelArrays(transport, [array, quick], false);
    await setArrayThrottle(transport, [array, quick], 4);
    await cancelArrays(transport, ['4000000000'], true);
    await setArrayThrottle(transport, ['4000000000'], 4);
  });

  // An array of another user, which the lab's sshd user may not steer: submitted as `nobody`, which needs this suite
  // to run as root beside the lab (as `npm run lab:up` does).
  it.skipIf(process.getuid?.() !== 0)('fails with SLURM\'s words on an array of another user', async () => {
    const { execFileSync } = await import('node:child_process');
    const other = execFileSync('runuser', ['-u', 'nobody', '--', 'sbatch', '--parsable', '-p', 'cpu', '--mem=10M', '-o', '/dev/null', '-D', '/tmp', '--array=0-3', '--hold', '--wrap', 'true'], { encoding: 'utf8' }).trim();
    try {
      await expect(setArrayThrottle(transport, [other], 2)).rejects.toThrow(/Invalid user id/);
      await expect(cancelArrays(transport, [other], false)).rejects.toThrow(/Access\/permission denied/);
      await expect(cancelArrays(transport, [other], true)).rejects.toThrow(/Access\/permission denied/);
    } finally {
      execFileSync('scancel', [other]);
    }
  });
});
