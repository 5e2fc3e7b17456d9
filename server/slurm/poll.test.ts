// Ask the queue, then accounting: the poll's one remote command run through a real /bin/sh, with stand-in squeue,
// sacct and scontrol on PATH that answer with outputs recorded in the lab (test/fixtures/slurm/) and log every call
// (with the SLURM_TIME_FORMAT it saw), since a fake transport cannot tell whether the script works.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { SlurmError } from '../errors.js';
import { createLocalTransport } from '../ssh/local-transport.js';
import type { ExecOptions, Transport } from '../ssh/index.js';
import { readJobStates } from './poll.js';
import { FINAL_SLURM_STATE_NAMES, TERMINAL_STATES, normalizeSlurmState, type SlurmJobStatus } from './state.js';

const fixtures = new URL('../../test/fixtures/slurm/', import.meta.url).pathname;

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
  writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $SLURM_TIME_FORMAT $*" >> "${toolCalls}"\n${body}\n`);
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

beforeEach(() => rmSync(toolCalls, { force: true }));

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
