// Ask the queue, then accounting: the poll's one remote command run through a real /bin/sh, with stand-in squeue,
// sacct and scontrol on PATH that answer with outputs recorded in the lab (test/fixtures/slurm/) and log every call
// (with the SLURM_TIME_FORMAT it saw), since a fake transport cannot tell whether the script works.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { SlurmError } from '../errors.js';
import { createLocalTransport } from '../ssh/local-transport.js';
import type { ExecOptions, Transport } from '../ssh/index.js';
import { readJobStates, statusIndex, statusLookup } from './poll.js';
import { FINAL_SLURM_STATE_NAMES, TERMINAL_STATES, normalizeSlurmState, parseSacct, parseSqueue, type SlurmJobStatus } from './state.js';

const fixtures = new URL('../../test/fixtures/slurm/', import.meta.url).pathname;
const recorded = (name: string) => readFileSync(join(fixtures, name), 'utf8');

const root = mkdtempSync(join(tmpdir(), 'mc-slurm-poll-'));
const bin = join(root, 'bin');
const toolCalls = join(root, 'calls');
mkdirSync(bin);
const local = createLocalTransport({ name: 'local', commandTimeoutMs: 30_000 });
afterAll(async () => {
  await local.close();
  rmSync(root, { recursive: true, force: true });
});

interface Call {
  argv: string[];
  options: ExecOptions | undefined;
}

/** The machine's own shell with the stand-ins first on PATH; keeps every argv it was handed. */
function shellTransport() {
  const calls: Call[] = [];
  const transport: Transport = {
    exec: (argv, options) => {
      calls.push({ argv: [...argv], options });
      return local.exec(['env', `PATH=${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, ...argv], options);
    },
    close: async () => undefined,
  };
  return { transport, calls };
}

const tool = (name: string, body: string) => {
  writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $SLURM_TIME_FORMAT $*" >> "${toolCalls}"; echo "\${SLURM_BITSTR_LEN-unset}" >> "${toolCalls}.bitstr"\n${body}\n`);
  chmodSync(join(bin, name), 0o755);
};

/** What each stand-in runs: a recorded file's name, or a failure with its stderr. */
interface Cluster {
  squeue?: string | { exitCode: number; stderr: string; stdout?: string };
  sacct?: string | { exitCode: number; stderr: string };
  scontrol?: string;
}

const failing = (answer: { exitCode: number; stderr: string; stdout?: string }) =>
  `printf '%s' '${answer.stdout ?? ''}'; printf '%s' '${answer.stderr}' >&2; exit ${answer.exitCode}`;

/** A login node whose squeue lists every job of the user; sacct and scontrol answer for the ids they are asked. */
function recordedCluster(cluster: Cluster) {
  tool('squeue', typeof cluster.squeue === 'string' ? `cat "${fixtures}${cluster.squeue}"` : cluster.squeue ? failing(cluster.squeue) : 'exit 0');
  // -X -n -P -o FIELDS -j IDS: the recorded lines of those jobs (an array's tasks included).
  tool(
    'sacct',
    typeof cluster.sacct === 'string'
      ? `awk -F'|' -v ids="$7" 'BEGIN { n = split(ids, want, ",") } { for (i = 1; i <= n; i++) if ($1 == want[i] || index($1, want[i] "_") == 1) print }' "${fixtures}${cluster.sacct}"`
      : cluster.sacct
        ? failing(cluster.sacct)
        : 'echo "no sacct answer configured" >&2; exit 1',
  );
  tool('scontrol', cluster.scontrol ? `grep "^JobId=$4 " "${fixtures}${cluster.scontrol}"` : 'exit 1');
  return shellTransport();
}

/** The stand-ins run, in order, each as "name SLURM_TIME_FORMAT args". */
const ran = (): string[] => {
  try {
    return readFileSync(toolCalls, 'utf8').trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
};
const commandsRun = () => ran().map((line) => line.split(' ')[0]);
const sacctAsked = () => ran().filter((line) => line.startsWith('sacct ')).map((line) => line.split(' ').at(-1));

beforeEach(() => {
  rmSync(toolCalls, { force: true });
  rmSync(`${toolCalls}.bitstr`, { force: true });
});

const byId = (statuses: SlurmJobStatus[]) => Object.fromEntries(statuses.map((status) => [status.slurmJobId, status]));

// Job ids in the recorded fixtures (see test/fixtures/slurm/README.md).
const OK = '39', FAIL = '40', RUN = '43', KILLED = '44', CPU_FULL = '45', RESOURCES = '46';

describe('readJobStates', () => {
  it('asks nothing for no jobs', async () => {
    const { transport, calls } = recordedCluster({});
    expect(await readJobStates(transport, [])).toEqual([]);
    expect(calls).toHaveLength(0);
  });

  it('answers jobs the queue still runs or holds from squeue alone, in one command', async () => {
    const { transport, calls } = recordedCluster({ squeue: 'squeue-states-early.txt' });
    const states = byId(await readJobStates(transport, [RUN, RESOURCES]));
    expect(states[RUN]).toMatchObject({ state: 'RUNNING', nodeList: 'gpu-a100', exitCode: null, startedAt: '2026-11-23T21:35:52', endedAt: null });
    expect(states[RESOURCES]).toMatchObject({ state: 'PENDING', reason: 'Resources', startedAt: null });
    expect(calls).toHaveLength(1);
    expect(commandsRun()).toEqual(['squeue']);
  });

  it('reads the exit code of a job the queue lists as ended from accounting, asking only about that job', async () => {
    const { transport, calls } = recordedCluster({ squeue: 'squeue-states-final.txt', sacct: 'sacct-states-final.txt' });
    const states = byId(await readJobStates(transport, [RUN, FAIL, KILLED]));
    expect(states[RUN]).toMatchObject({ state: 'RUNNING', exitCode: null });
    // squeue prints no exit code; sacct does (40 ran `exit 3`, 44 killed itself with signal 9).
    expect(states[FAIL]).toMatchObject({ state: 'FAILED', exitCode: 3, signal: null, endedAt: '2026-11-23T21:35:51' });
    expect(states[KILLED]).toMatchObject({ state: 'FAILED', exitCode: 0, signal: 9 });
    expect(Object.keys(states).sort()).toEqual([FAIL, RUN, KILLED].sort());
    expect(calls).toHaveLength(1);
    expect(commandsRun()).toEqual(['squeue', 'sacct']);
    expect(sacctAsked()).toEqual([`${FAIL},${KILLED}`]);
  });

  it("keeps the queue's word that a job ended while accounting still says it runs", async () => {
    // squeue (final) has 45 COMPLETED; sacct (early) lags behind with 45 RUNNING.
    const { transport } = recordedCluster({ squeue: 'squeue-states-final.txt', sacct: 'sacct-states-early.txt' });
    const states = await readJobStates(transport, [CPU_FULL]);
    expect(states).toHaveLength(1);
    expect(states[0]).toMatchObject({ slurmJobId: CPU_FULL, state: 'COMPLETED', rawState: 'COMPLETED', endedAt: '2026-11-23T21:36:17' });
    expect(commandsRun()).toEqual(['squeue', 'sacct']);
  });

  it('looks a job up in accounting when squeue no longer knows its only id', async () => {
    const { transport } = recordedCluster({ squeue: { exitCode: 0, stderr: '' }, sacct: 'sacct-states-final.txt' });
    expect(await readJobStates(transport, [OK])).toEqual([
      expect.objectContaining({ slurmJobId: OK, state: 'COMPLETED', exitCode: 0, nodeList: 'gpu-h100', workDir: '/home/mlops/mcfx' }),
    ]);
    expect(commandsRun()).toEqual(['squeue', 'sacct']);
    expect(sacctAsked()).toEqual([OK]);
  });

  it('answers nothing (never a guess) for a job neither the queue nor accounting knows', async () => {
    const { transport } = recordedCluster({ squeue: { exitCode: 0, stderr: '' }, sacct: 'sacct-states-final.txt' });
    expect(await readJobStates(transport, ['999'])).toEqual([]);
  });

  it('fails with SLURM words when squeue fails for another reason, without asking accounting', async () => {
    const stderr = 'squeue: error: Unable to contact slurm controller (connect failure)\n';
    const { transport } = recordedCluster({ squeue: { exitCode: 1, stderr }, sacct: 'sacct-states-final.txt' });
    const error = await readJobStates(transport, [OK]).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SlurmError);
    expect(error).toMatchObject({ command: 'squeue', exitCode: 1, stderr });
    expect(commandsRun()).toEqual(['squeue']);
  });

  // Found by parsers.property.test.ts: the parse error was a plain Error, which the API masks as "Unexpected error".
  it('fails with a SlurmError (a SlurmParseError) when squeue answers something unreadable', async () => {
    const { transport } = recordedCluster({ squeue: { exitCode: 0, stdout: 'N\n', stderr: '' }, sacct: 'sacct-states-final.txt' });
    const error = await readJobStates(transport, [OK]).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SlurmError);
    expect(error).toMatchObject({ name: 'SlurmParseError', command: 'squeue', message: 'squeue failed: not the expected output format: "N"' });
  });

  it('fails when sacct fails for a reason other than disabled accounting', async () => {
    const stderr = 'sacct: error: Problem talking to the database: Connection refused\n';
    const { transport } = recordedCluster({ squeue: { exitCode: 0, stderr: '' }, sacct: { exitCode: 1, stderr } });
    await expect(readJobStates(transport, [OK])).rejects.toMatchObject({ name: 'SlurmError', command: 'sacct', stderr });
  });

  it('asks scontrol, one id per argument, when accounting is disabled', async () => {
    const { transport, calls } = recordedCluster({
      squeue: 'squeue-states-final.txt',
      sacct: { exitCode: 1, stderr: 'sacct: error: Slurm accounting storage is disabled\n' },
      scontrol: 'scontrol-oneline-final.txt',
    });
    const states = byId(await readJobStates(transport, [RUN, FAIL, OK]));
    expect(states[RUN]).toMatchObject({ state: 'RUNNING' });
    expect(states[FAIL]).toMatchObject({ state: 'FAILED', exitCode: 3 });
    expect(states[OK]).toMatchObject({ state: 'COMPLETED', exitCode: 0 });
    expect(calls).toHaveLength(1);
    expect(commandsRun()).toEqual(['squeue', 'sacct', 'scontrol', 'scontrol']);
    // Each id as its own call: Slurm 22.05 refuses "40,39".
    expect(ran().filter((line) => line.startsWith('scontrol '))).toEqual([`scontrol standard show job -o ${FAIL}`, `scontrol standard show job -o ${OK}`]);
  });

  it('prefixes every command it runs with SLURM_TIME_FORMAT=standard', async () => {
    const { transport } = recordedCluster({
      squeue: 'squeue-states-final.txt',
      sacct: { exitCode: 1, stderr: 'Slurm accounting storage is disabled' },
      scontrol: 'scontrol-oneline-final.txt',
    });
    await readJobStates(transport, [FAIL]);
    expect(ran()).toHaveLength(3);
    for (const line of ran()) expect(line.split(' ')[1]).toBe('standard');
  });
});

describe('the poll script, through a real shell', () => {
  it('runs scontrol once per id when accounting is disabled', async () => {
    const { transport } = recordedCluster({
      squeue: { exitCode: 0, stderr: '' },
      sacct: { exitCode: 1, stderr: 'sacct: error: Slurm accounting storage is disabled\n' },
      scontrol: 'scontrol-oneline-final.txt',
    });
    const states = byId(await readJobStates(transport, [FAIL, OK]));
    expect(states[FAIL]).toMatchObject({ state: 'FAILED', exitCode: 3 });
    expect(states[OK]).toMatchObject({ state: 'COMPLETED', exitCode: 0 });
    expect(ran().filter((line) => line.startsWith('scontrol '))).toEqual([`scontrol standard show job -o ${FAIL}`, `scontrol standard show job -o ${OK}`]);
  });
});

describe('the final states', () => {
  it('come from the one list: the queue showing any of them (and only them) sends the job to accounting', async () => {
    const longNames = FINAL_SLURM_STATE_NAMES.filter((name) => name.length > 3);
    expect(longNames.map(normalizeSlurmState).every((state) => TERMINAL_STATES.has(state))).toBe(true);
    const notFinal = ['PENDING', 'RUNNING', 'COMPLETING', 'REQUEUED', 'SUSPENDED', 'STAGE_OUT'];
    const names = [...longNames, ...notFinal];
    const queue = names.map((name, index) => `${100 + index}|${name}|None|node1|2026-11-23T10:00:00|2026-11-23T10:01:00|1:00|/w`).join('\n');
    writeFileSync(join(root, 'queue.txt'), `${queue}\n`);
    const { transport } = recordedCluster({ sacct: 'sacct-states-final.txt' });
    tool('squeue', `cat "${join(root, 'queue.txt')}"`);
    await readJobStates(transport, names.map((_, index) => String(100 + index)));
    expect(sacctAsked()).toEqual([longNames.map((_, index) => String(100 + index)).join(',')]);
  });
});

// Array tasks (issue 15): a Job row of a task keeps "arrayJobId_index" as its slurmJobId. Job 52 of the recorded
// fixtures is a real `--array=0-3%2`: early, 52_0 and 52_1 run and squeue folds the rest as 52_[2-3%2].
describe('array tasks', () => {
  const TASKS = ['52_0', '52_1', '52_2', '52_3'];

  it("finds each task in the queue, a pending one inside its array's folded line, in one command that asks accounting only about the ended job", async () => {
    const { transport, calls } = recordedCluster({ squeue: 'squeue-states-early.txt', sacct: 'sacct-states-early.txt' });
    const states = byId(await readJobStates(transport, [...TASKS, FAIL]));
    expect(Object.keys(states).sort()).toEqual([FAIL, ...TASKS]);
    expect(states[FAIL]).toMatchObject({ state: 'FAILED', exitCode: 3 });
    expect(states['52_0']).toMatchObject({ state: 'RUNNING', nodeList: 'gpu-h100', startedAt: '2026-11-23T21:35:55' });
    expect(states['52_2']).toMatchObject({ slurmJobId: '52_2', state: 'PENDING', rawState: 'PENDING', reason: 'JobArrayTaskLimit', nodeList: null, startedAt: null });
    expect(states['52_3']).toMatchObject({ slurmJobId: '52_3', state: 'PENDING', reason: 'JobArrayTaskLimit' });
    expect(calls).toHaveLength(1);
    expect(sacctAsked()).toEqual([FAIL]);
  });

  // Debian and Ubuntu login nodes have mawk as awk, RHEL's have gawk; the lab (and this machine) has gawk.
  it.runIf(existsSync('/usr/bin/mawk'))('reads folded lines with mawk as awk too', async () => {
    const { transport } = recordedCluster({ squeue: 'squeue-states-early.txt', sacct: 'sacct-states-early.txt' });
    symlinkSync('/usr/bin/mawk', join(bin, 'awk'));
    try {
      expect(byId(await readJobStates(transport, [...TASKS, FAIL]))[FAIL]).toMatchObject({ state: 'FAILED', exitCode: 3 });
      expect(sacctAsked()).toEqual([FAIL]);
    } finally {
      rmSync(join(bin, 'awk'));
    }
  });

  it("reads ended tasks' exit codes from accounting, asking for those tasks only", async () => {
    const { transport, calls } = recordedCluster({ squeue: 'squeue-states-final.txt', sacct: 'sacct-states-final.txt' });
    const states = byId(await readJobStates(transport, ['52_0', '52_3', RUN]));
    expect(states['52_0']).toMatchObject({ state: 'COMPLETED', exitCode: 0, endedAt: '2026-11-23T21:36:10' });
    expect(states['52_3']).toMatchObject({ state: 'COMPLETED', exitCode: 0, reason: null, endedAt: '2026-11-23T21:36:25' });
    expect(states[RUN]).toMatchObject({ state: 'RUNNING' });
    expect(calls).toHaveLength(1);
    expect(sacctAsked()).toEqual(['52_0,52_3']);
  });

  it('asks squeue and sacct for whole folded expressions (SLURM_BITSTR_LEN=0: by default both cut them at 64 bytes)', async () => {
    const { transport } = recordedCluster({ squeue: 'squeue-states-final.txt', sacct: 'sacct-states-final.txt' });
    await readJobStates(transport, ['52_0']);
    expect(readFileSync(`${toolCalls}.bitstr`, 'utf8').trim().split('\n')).toEqual(['0', '0']);
  });

  it('gives a task the state of the folded record that holds it, in the queue and in accounting, under its own id', () => {
    const queue = parseSqueue(recorded('squeue-states-early.txt'));
    const statusOf = statusLookup({ queue, finished: [], accountingError: null });
    expect(statusOf('52_2')).toMatchObject({ slurmJobId: '52_2', state: 'PENDING', reason: 'JobArrayTaskLimit' });
    expect(statusOf('52_1')).toMatchObject({ slurmJobId: '52_1', state: 'RUNNING' });
    // Neither the array's own id nor an index outside its range is one of its tasks.
    expect(statusOf('52')).toBeUndefined();
    expect(statusOf('52_4')).toBeUndefined();
    const fromAccounting = statusLookup({ queue: [], finished: parseSacct(recorded('sacct-states-early.txt')), accountingError: null });
    expect(fromAccounting('52_3')).toMatchObject({ slurmJobId: '52_3', state: 'PENDING', reason: 'JobArrayTaskLimit' });
  });

  // Recorded on the lab (Slurm 22.05.8, see test/fixtures/slurm/README.md): 2083 --array=0-9%2 with its pending rest
  // cancelled (scancel -t PENDING), 2084 --array=1,3,5-7,20-30:5%1, 2085 --array=0,2,…,200%1 --hold,
  // 2086 --array=0-999%64 --hold, 2090 a long irregular list.
  it("reads the lab's folded lists, steps and 1,000-task range in one command, asking accounting only about ended tasks", async () => {
    const { transport, calls } = recordedCluster({ squeue: 'squeue-array-tasks.txt', sacct: 'sacct-array-tasks.txt' });
    const states = byId(await readJobStates(transport, ['2084_1', '2084_5', '2084_7', '2084_30', '2085_200', '2086_0', '2086_999', '2090_59']));
    expect(states['2084_1']).toMatchObject({ state: 'COMPLETED', exitCode: 0 });
    expect(states['2084_5']).toMatchObject({ state: 'RUNNING', nodeList: 'cpu-01' });
    expect(states['2084_7']).toMatchObject({ slurmJobId: '2084_7', state: 'PENDING', reason: 'JobArrayTaskLimit' });
    expect(states['2084_30']).toMatchObject({ state: 'PENDING', reason: 'JobArrayTaskLimit' });
    for (const id of ['2085_200', '2086_0', '2086_999', '2090_59']) expect(states[id]).toMatchObject({ slurmJobId: id, state: 'PENDING', reason: 'JobHeldUser' });
    expect(calls).toHaveLength(1);
    expect(sacctAsked()).toEqual(['2084_1']);
  });

  it('asks accounting by the array id for tasks cancelled before they started: squeue lists them as the array id, sacct only folded', async () => {
    const { transport } = recordedCluster({ squeue: 'squeue-array-tasks.txt', sacct: 'sacct-array-tasks.txt' });
    const states = byId(await readJobStates(transport, ['2083_0', '2083_5', '2083_9']));
    expect(sacctAsked()).toEqual(['2083_0,2083']);
    expect(states['2083_0']).toMatchObject({ state: 'COMPLETED', exitCode: 0 });
    expect(states['2083_5']).toMatchObject({ slurmJobId: '2083_5', state: 'CANCELLED', rawState: 'CANCELLED by 1001', exitCode: 0, startedAt: null });
    expect(states['2083_9']).toMatchObject({ slurmJobId: '2083_9', state: 'CANCELLED' });
  });

  it("ends the tasks of an array's cancelled rest that accounting lists unfolded, under the array's bare id", async () => {
    const { transport } = recordedCluster({ squeue: 'squeue-array-cancelled-unfolded.txt', sacct: 'sacct-array-cancelled-unfolded.txt' });
    const states = byId(await readJobStates(transport, ['3286_0', '3286_1', '3286_3']));
    expect(states['3286_0']).toMatchObject({ state: 'COMPLETED', exitCode: 0 });
    for (const id of ['3286_1', '3286_3']) expect(states[id]).toMatchObject({ slurmJobId: id, state: 'CANCELLED', rawState: 'CANCELLED by 1001' });
  });

  it("prefers a task's own line to its array's folded record (accounting lags: 2084_5 runs and is still in the folded record)", () => {
    const finished = statusIndex(parseSacct(recorded('sacct-array-tasks.txt')));
    expect(finished.get('2084_5')).toMatchObject({ state: 'RUNNING', rawState: 'RUNNING' });
    expect(finished.get('2084_6')).toMatchObject({ slurmJobId: '2084_6', state: 'PENDING' });
    expect(finished.get('2085_200')).toMatchObject({ state: 'PENDING', reason: 'JobHeldUser' });
    expect(finished.get('2085_201')).toBeUndefined();
    expect(finished.get('2083')).toBeUndefined();
  });
});

describe('a 1,000-task array beside 100 single jobs', () => {
  // Lines as the lab's squeue prints them (see squeue-states-early.txt): with a throttle of 64, 64 tasks run and
  // the 936 others are one folded line; `squeue -r` would print one line per task.
  const running = Array.from({ length: 64 }, (_, index) => `900_${index}|RUNNING|None|gpu-a100|2026-11-23T21:35:55|NONE|0:02|/home/mlops/mc/jobs/sweep`);
  const folded = '900_[64-999%64]|PENDING|JobArrayTaskLimit||N/A|N/A|0:00|/home/mlops/mc/jobs/sweep';
  const unfolded = Array.from({ length: 936 }, (_, index) => `900_${64 + index}|PENDING|JobArrayTaskLimit||N/A|N/A|0:00|/home/mlops/mc/jobs/sweep`);
  // The first single job has just ended, so the poll has one question for accounting.
  const singles = [
    '1000|COMPLETED|None|cpu-01|2026-11-23T21:35:52|2026-11-23T21:36:17|0:25|/home/mlops/mc/jobs/j0',
    ...Array.from({ length: 99 }, (_, index) => `${1001 + index}|PENDING|Resources||N/A|N/A|0:00|/home/mlops/mc/jobs/j${index + 1}`),
  ];
  const tasks = Array.from({ length: 1000 }, (_, index) => `900_${index}`);
  const singleIds = singles.map((line) => line.split('|')[0]!);

  it('answers all 1,100 in one command that asks accounting only about the ended job, from 165 queue lines', async () => {
    writeFileSync(join(root, 'queue-1000.txt'), `${[...running, folded, ...singles].join('\n')}\n`);
    const { transport, calls } = recordedCluster({ sacct: 'sacct-states-final.txt' });
    tool('squeue', `cat "${join(root, 'queue-1000.txt')}"`);
    const bytes: number[] = [];
    const metered: Transport = { exec: async (argv, options) => { const result = await transport.exec(argv, options); bytes.push(Buffer.byteLength(result.stdout)); return result; }, close: async () => undefined };
    const states = await readJobStates(metered, [...tasks, ...singleIds]);
    expect(states).toHaveLength(1100);
    expect(states.filter((status) => status.state === 'RUNNING').map((status) => status.slurmJobId)).toEqual(tasks.slice(0, 64));
    expect(states.slice(64, 1000).every((status, index) => status.slurmJobId === `900_${64 + index}` && status.reason === 'JobArrayTaskLimit')).toBe(true);
    expect(calls).toHaveLength(1);
    expect(sacctAsked()).toEqual(['1000']);
    const foldedBytes = Buffer.byteLength([...running, folded, ...singles].join('\n'));
    const unfoldedBytes = Buffer.byteLength([...running, ...unfolded, ...singles].join('\n'));
    expect(bytes[0]).toBeLessThan(foldedBytes + 100);
    // What asking squeue to unfold (-r) would have cost on the wire, every tick.
    expect(unfoldedBytes / foldedBytes).toBeGreaterThan(6);
    console.log(`1,000 tasks + 100 jobs: ${bytes[0]} bytes from the poll (${165} queue lines); squeue -r would print ${unfoldedBytes} bytes (${1100} lines)`);
  });

  it('keeps 165 statuses for the queue, not 1,100, and plain jobs exactly as before', () => {
    const queue = parseSqueue([...running, folded, ...singles].join('\n'));
    expect(queue).toHaveLength(165);
    const statusOf = statusLookup({ queue, finished: [], accountingError: null });
    expect(tasks.every((id) => statusOf(id)?.slurmJobId === id)).toBe(true);
    expect(statusOf('1042')).toEqual(queue.find((status) => status.slurmJobId === '1042'));
  });
});
