import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  isAccountingDisabledMessage,
  JOB_STATES,
  type JobState,
  normalizeSlurmState,
  parseElapsed,
  parseSacct,
  parseSbatchParsable,
  parseScontrolJobs,
  parseSqueue,
  SACCT_FIELDS,
  SlurmParseError,
  type SlurmJobStatus,
  SQUEUE_FORMAT,
  TERMINAL_STATES,
} from './state.js';

const recorded = (name: string) => readFileSync(new URL(`../../test/fixtures/slurm/${name}`, import.meta.url), 'utf8');
const byId = (statuses: SlurmJobStatus[]) => new Map(statuses.map((status) => [status.slurmJobId, status]));
const job = (statuses: SlurmJobStatus[], id: string) => {
  const found = byId(statuses).get(id);
  if (!found) throw new Error(`job ${id} not parsed`);
  return found;
};

// Job ids in the recorded fixtures (see test/fixtures/slurm/README.md).
const OK = '39', FAIL = '40', CANCEL = '41', TIMEOUT = '42', RUN = '43', KILLED = '44', CPU_FULL = '45', RESOURCES = '46';
const HELD = '47', DEPENDENCY = '48', NEVER = '49', BEGIN = '50', PIPE_DIR = '51';

describe('normalizeSlurmState', () => {
  it.each([
    ['PENDING', 'PENDING'],
    ['RUNNING', 'RUNNING'],
    ['COMPLETING', 'COMPLETING'],
    ['COMPLETED', 'COMPLETED'],
    ['FAILED', 'FAILED'],
    ['CANCELLED', 'CANCELLED'],
    ['CANCELLED by 1001', 'CANCELLED'],
    ['CANCELLED by 0', 'CANCELLED'],
    ['TIMEOUT', 'TIMEOUT'],
    ['OUT_OF_MEMORY', 'OUT_OF_MEMORY'],
    ['NODE_FAIL', 'NODE_FAIL'],
    ['PREEMPTED', 'PREEMPTED'],
    ['BOOT_FAIL', 'NODE_FAIL'],
    ['DEADLINE', 'TIMEOUT'],
    ['REQUEUED', 'PENDING'],
    ['REQUEUE_HOLD', 'PENDING'],
    ['SPECIAL_EXIT', 'PENDING'],
    ['SUSPENDED', 'RUNNING'],
    ['CONFIGURING', 'RUNNING'],
    ['STAGE_OUT', 'COMPLETING'],
    // squeue %t codes
    ['PD', 'PENDING'],
    ['R', 'RUNNING'],
    ['CG', 'COMPLETING'],
    ['CD', 'COMPLETED'],
    ['CA', 'CANCELLED'],
    ['OOM', 'OUT_OF_MEMORY'],
    // sacct without -P cuts long words to the column and adds "+"
    ['CANCELLED+', 'CANCELLED'],
    ['OUT_OF_ME+', 'OUT_OF_MEMORY'],
    ['COMPLETI+', 'COMPLETING'],
    ['  RUNNING \n', 'RUNNING'],
  ] satisfies [string, JobState][])('%j → %s', (raw, expected) => {
    expect(normalizeSlurmState(raw)).toBe(expected);
  });

  it('never guesses COMPLETED: unknown, empty and ambiguous words are UNKNOWN', () => {
    for (const raw of ['', 'REVOKED', 'COMPLET+', 'COMPLETE', 'DONE', 'OK', 'exit 0', '+', 'C', 'completed-ish']) {
      expect(normalizeSlurmState(raw), raw).toBe('UNKNOWN');
    }
  });

  it('keeps the terminal set to what the brief names', () => {
    expect([...TERMINAL_STATES].sort()).toEqual(
      ['CANCELLED', 'COMPLETED', 'FAILED', 'NODE_FAIL', 'OUT_OF_MEMORY', 'PREEMPTED', 'SUBMIT_FAILED', 'TIMEOUT'].sort(),
    );
    expect(JOB_STATES).toContain('UNKNOWN');
    expect(TERMINAL_STATES.has('UNKNOWN')).toBe(false);
  });
});

describe('parseSqueue', () => {
  it('matches the recorded format', () => {
    expect(SQUEUE_FORMAT).toBe('%i|%T|%r|%N|%S|%e|%M|%Z');
  });

  it('reads pending jobs: reasons kept, the scheduler’s start forecast and "N/A"/"NONE" ends not taken as times', () => {
    const jobs = parseSqueue(recorded('squeue-states-early.txt'));
    expect(jobs).toHaveLength(16);
    expect(job(jobs, RESOURCES)).toEqual({
      slurmJobId: RESOURCES,
      rawState: 'PENDING',
      state: 'PENDING',
      reason: 'Resources',
      exitCode: null,
      signal: null,
      nodeList: null,
      startedAt: null, // squeue printed the forecast 2027-11-23T21:35:52
      endedAt: null, // "NONE"
      expectedStartAt: '2027-11-23T21:35:52', // kept apart: the scheduler's estimate (a year ahead: 45 has no time limit)
      timeLimitAt: null,
      elapsedSeconds: 0,
      workDir: '/home/mlops/mcfx',
    });
    expect(job(jobs, BEGIN).startedAt).toBeNull(); // squeue printed the --begin time
    const reasons = Object.fromEntries(jobs.filter((j) => j.state === 'PENDING').map((j) => [j.slurmJobId, j.reason]));
    expect(reasons).toEqual({
      [RESOURCES]: 'Resources',
      [DEPENDENCY]: 'Dependency',
      [NEVER]: 'DependencyNeverSatisfied',
      [BEGIN]: 'BeginTime',
      '52_[2-3%2]': 'JobArrayTaskLimit',
      [HELD]: 'JobHeldUser',
    });
  });

  it("reads a pending job's expected start (what `squeue --start` prints) apart from its start; none for other states", () => {
    const jobs = parseSqueue(recorded('squeue-states-early.txt'));
    const expected = Object.fromEntries(jobs.map((j) => [j.slurmJobId, j.expectedStartAt]));
    expect(expected).toMatchObject({
      [RESOURCES]: '2027-11-23T21:35:52',
      [BEGIN]: '2026-11-23T22:35:51', // its --begin time
      [HELD]: null, // N/A
      [DEPENDENCY]: null,
      '52_[2-3%2]': null,
      [RUN]: null, // running: its %S is its start, not an estimate
      [OK]: null,
    });
    const scontrol = parseScontrolJobs(recorded('scontrol-oneline-early.txt'));
    expect(job(scontrol, RESOURCES).expectedStartAt).toBe('2027-11-23T21:35:52');
    expect(job(scontrol, HELD).expectedStartAt).toBeNull(); // StartTime=Unknown
    expect(job(parseSacct(recorded('sacct-states-early.txt')), RESOURCES).expectedStartAt).toBeNull(); // Start=Unknown
  });

  it('reads running jobs: reason "None" → null, the end forecast (start + time limit) dropped', () => {
    const jobs = parseSqueue(recorded('squeue-states-early.txt'));
    expect(job(jobs, TIMEOUT)).toMatchObject({
      state: 'RUNNING',
      reason: null,
      nodeList: 'gpu-h100',
      startedAt: '2026-11-23T21:35:52',
      endedAt: null, // squeue printed 2026-11-23T21:36:52, the --time=1 limit
      elapsedSeconds: 5,
    });
    expect(job(jobs, '52_0')).toMatchObject({ state: 'RUNNING', endedAt: null, startedAt: '2026-11-23T21:35:55' });
    expect(job(jobs, CPU_FULL).nodeList).toBe('cpu-01');
  });

  it('reads finished jobs; squeue prints no exit code, so it is not known', () => {
    const jobs = parseSqueue(recorded('squeue-states-final.txt'));
    expect(job(jobs, FAIL)).toEqual({
      slurmJobId: FAIL,
      rawState: 'FAILED',
      state: 'FAILED',
      reason: 'NonZeroExitCode',
      exitCode: null,
      signal: null,
      nodeList: 'gpu-h100',
      startedAt: '2026-11-23T21:35:49',
      endedAt: '2026-11-23T21:35:51',
      expectedStartAt: null,
      timeLimitAt: null,
      elapsedSeconds: 2,
      workDir: '/home/mlops/mcfx',
    });
    expect(job(jobs, KILLED)).toMatchObject({ state: 'FAILED', reason: 'JobLaunchFailure' });
    expect(job(jobs, TIMEOUT)).toMatchObject({ state: 'TIMEOUT', reason: 'TimeLimit', endedAt: '2026-11-23T21:36:52', elapsedSeconds: 60 });
    expect(job(jobs, CANCEL)).toMatchObject({ state: 'CANCELLED', reason: null, startedAt: '2026-11-23T21:35:52', elapsedSeconds: 7 });
    expect(job(jobs, '52_3')).toMatchObject({ state: 'COMPLETED', elapsedSeconds: 15 });
  });

  it('does not give a start to a job cancelled while pending (squeue prints the cancel time as its start)', () => {
    const jobs = parseSqueue(recorded('squeue-states-final.txt'));
    for (const id of [HELD, DEPENDENCY, NEVER, BEGIN]) {
      expect(job(jobs, id), id).toMatchObject({ state: 'CANCELLED', nodeList: null, startedAt: null, elapsedSeconds: 0 });
    }
    expect(job(jobs, HELD)).toMatchObject({ reason: 'JobHeldUser', endedAt: '2026-11-23T21:37:00' });
  });

  it('keeps a work directory that contains "|" and spaces whole', () => {
    const jobs = parseSqueue(recorded('squeue-states-final.txt'));
    expect(job(jobs, PIPE_DIR).workDir).toBe('/home/mlops/mcfx/dir with space|pipe');
  });

  it('reads %R-style reasons in parentheses, skips a header and unreadable lines, returns [] for no jobs', () => {
    const output = [
      'JOBID|STATE|REASON|NODELIST|START_TIME|END_TIME|TIME|WORK_DIR',
      '13|PENDING|(Resources)||N/A|N/A|0:00|/w',
      '14|PENDING|(None)||N/A|N/A|0:00|',
      'garbage',
      '15|RUNNING|None|gpu-[1-2]|2026-11-23T21:00:00|NONE|1-02:03:04|/w',
      '16|RUNN',
    ].join('\n');
    const jobs = parseSqueue(output);
    expect(jobs.map((j) => [j.slurmJobId, j.reason, j.nodeList, j.elapsedSeconds, j.workDir])).toEqual([
      ['13', 'Resources', null, 0, '/w'],
      ['14', null, null, 0, null],
      ['15', null, 'gpu-[1-2]', 93_784, '/w'],
    ]);
    expect(parseSqueue('')).toEqual([]);
    expect(parseSqueue('\n\n')).toEqual([]);
  });

  it("treats SLURM's own messages as no jobs, and output in another format as an error", () => {
    // stderr merged into stdout: the caller judges it by the exit code
    expect(parseSqueue('slurm_load_jobs error: Invalid job id specified\n')).toEqual([]);
    // squeue run without our -o: returning [] would say "all your jobs are gone"
    expect(() => parseSqueue('JOBID PARTITION NAME USER ST TIME NODES NODELIST(REASON)\n13 gpu train mlops PD 0:00 1 (Resources)\n')).toThrow(SlurmParseError);
    expect(() => parseSqueue(recorded('sacct-states-final.txt').replace(/\|/g, ','))).toThrow(SlurmParseError);
  });
});

describe('parseSacct', () => {
  it('matches the recorded format', () => {
    expect(SACCT_FIELDS).toBe('JobID,State,Reason,ExitCode,Start,End,Elapsed,NodeList,WorkDir');
  });

  it('reads exit codes and signals of finished jobs', () => {
    const jobs = parseSacct(recorded('sacct-states-final.txt'));
    expect(jobs).toHaveLength(17);
    expect(job(jobs, FAIL)).toEqual({
      slurmJobId: FAIL,
      rawState: 'FAILED',
      state: 'FAILED',
      reason: null,
      exitCode: 3,
      signal: null,
      nodeList: 'gpu-h100',
      startedAt: '2026-11-23T21:35:49',
      endedAt: '2026-11-23T21:35:51',
      expectedStartAt: null,
      timeLimitAt: null,
      elapsedSeconds: 2,
      workDir: '/home/mlops/mcfx',
    });
    // the batch script killed itself with SIGKILL
    expect(job(jobs, KILLED)).toMatchObject({ state: 'FAILED', exitCode: 0, signal: 9 });
    expect(job(jobs, CANCEL)).toMatchObject({ rawState: 'CANCELLED by 1001', state: 'CANCELLED', exitCode: 0, signal: null, elapsedSeconds: 7 });
    expect(job(jobs, TIMEOUT)).toMatchObject({ state: 'TIMEOUT', exitCode: 0, elapsedSeconds: 60, endedAt: '2026-11-23T21:36:52' });
    expect(job(jobs, OK)).toMatchObject({ state: 'COMPLETED', exitCode: 0, signal: null });
  });

  it('reads an exit code that is not a pair of bytes as not known', () => {
    const line = (exitCode: string) => `60|FAILED|None|${exitCode}|2026-11-23T21:35:49|2026-11-23T21:35:51|00:00:02|gpu-h100|/home/mlops/mcfx\n`;
    expect(parseSacct(line('255:9'))[0]).toMatchObject({ exitCode: 255, signal: 9 });
    expect(parseSacct(line('99999999999999999999:0'))[0]).toMatchObject({ exitCode: null, signal: null });
  });

  it('reads "None" start and "None assigned" nodes of a job cancelled while pending as not known', () => {
    const jobs = parseSacct(recorded('sacct-states-final.txt'));
    expect(job(jobs, HELD)).toMatchObject({ state: 'CANCELLED', startedAt: null, nodeList: null, endedAt: '2026-11-23T21:37:00' });
  });

  it('does not report the 0:0 and "Unknown" end of a running job as facts', () => {
    const jobs = parseSacct(recorded('sacct-states-early.txt'));
    expect(job(jobs, RUN)).toMatchObject({ state: 'RUNNING', exitCode: null, signal: null, endedAt: null, startedAt: '2026-11-23T21:35:52', elapsedSeconds: 6 });
    expect(job(jobs, RESOURCES)).toMatchObject({ state: 'PENDING', startedAt: null, endedAt: null, nodeList: null, exitCode: null });
  });

  it('keeps the reason only while pending: sacct still says JobArrayTaskLimit for a completed array task', () => {
    expect(job(parseSacct(recorded('sacct-states-early.txt')), '52_[2-3%2]').reason).toBe('JobArrayTaskLimit');
    expect(job(parseSacct(recorded('sacct-states-final.txt')), '52_2')).toMatchObject({ state: 'COMPLETED', reason: null });
  });

  it('ignores step lines even when -X was forgotten', () => {
    const jobs = parseSacct(recorded('sacct-with-steps.txt'));
    expect(jobs.map((j) => j.slurmJobId)).toEqual(['39', '40', '41', '42', '43', '44', '45', '46', '47', '48', '49', '50', '51', '52_0', '52_1', '52_2', '52_3']);
    // the TIMEOUT job's batch step reads CANCELLED 0:15; the job line wins
    expect(job(jobs, TIMEOUT)).toMatchObject({ state: 'TIMEOUT', signal: null });
    expect(parseSacct('7.batch|COMPLETED||0:0|x|x|00:00:01|n|\n7.extern|COMPLETED||0:0|x|x|00:00:01|n|\n')).toEqual([]);
  });

  it('says when accounting is off instead of reporting no jobs', () => {
    expect(() => parseSacct('Slurm accounting storage is disabled\n')).toThrow(SlurmParseError);
    expect(isAccountingDisabledMessage('SLURM accounting storage is disabled\n')).toBe(true);
    expect(isAccountingDisabledMessage('sacct: error: Problem talking to the database')).toBe(false);
    expect(parseSacct('')).toEqual([]); // an unknown id: no lines, exit 0
  });
});

describe('parseScontrolJobs', () => {
  it('reads one line per job and names array tasks as squeue and sacct do', () => {
    const jobs = parseScontrolJobs(recorded('scontrol-oneline-early.txt'));
    expect(jobs.map((j) => j.slurmJobId)).toEqual(['39', '40', '41', '42', '43', '44', '45', '46', '47', '48', '49', '50', '51', '52_[2-3%2]', '52_1', '52_0']);
    expect(job(jobs, HELD)).toMatchObject({ state: 'PENDING', reason: 'JobHeldUser', startedAt: null, endedAt: null, nodeList: null });
    expect(job(jobs, DEPENDENCY).reason).toBe('Dependency');
    expect(job(jobs, RUN)).toMatchObject({ state: 'RUNNING', endedAt: null, exitCode: null, elapsedSeconds: 6 });
  });

  it('reads finished jobs, where scontrol (unlike sacct) shows the signal that ended them', () => {
    const jobs = parseScontrolJobs(recorded('scontrol-oneline-final.txt'));
    expect(job(jobs, TIMEOUT)).toEqual({
      slurmJobId: TIMEOUT,
      rawState: 'TIMEOUT',
      state: 'TIMEOUT',
      reason: 'TimeLimit',
      exitCode: 0,
      signal: 15,
      nodeList: 'gpu-h100',
      startedAt: '2026-11-23T21:35:52',
      endedAt: '2026-11-23T21:36:52',
      expectedStartAt: null,
      timeLimitAt: null,
      elapsedSeconds: 60,
      workDir: '/home/mlops/mcfx',
    });
    expect(job(jobs, CANCEL)).toMatchObject({ state: 'CANCELLED', exitCode: 0, signal: 15 });
    expect(job(jobs, FAIL)).toMatchObject({ state: 'FAILED', reason: 'NonZeroExitCode', exitCode: 3, signal: null });
    expect(job(jobs, HELD)).toMatchObject({ state: 'CANCELLED', reason: 'JobHeldUser', startedAt: null });
    expect(job(jobs, PIPE_DIR).workDir).toBe('/home/mlops/mcfx/dir with space|pipe');
    expect(job(jobs, '52_3').state).toBe('COMPLETED'); // printed as JobId=52 ArrayTaskId=3
  });

  it('reads the multi-line form (without -o) the same way', () => {
    const oneLine = byId(parseScontrolJobs(recorded('scontrol-oneline-final.txt')));
    const multiLine = parseScontrolJobs(recorded('scontrol-multiline.txt'));
    expect(multiLine.map((j) => j.slurmJobId)).toEqual([TIMEOUT, '52_3', '52_2', '52_1', '52_0']);
    for (const status of multiLine) expect(status).toEqual(oneLine.get(status.slurmJobId));
  });

  it('reads the accounting-off sample from slurm-samples.txt, and job names and paths with spaces', () => {
    const sample = [
      'JobId=4 JobName=ok job',
      '   JobState=COMPLETED Reason=None Dependency=(null)',
      '   Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0',
      '   RunTime=00:00:03 TimeLimit=UNLIMITED TimeMin=N/A',
      '   StartTime=2026-11-23T19:54:16 EndTime=2026-11-23T19:54:19 Deadline=N/A',
      '   NodeList=vm',
      '   Command=/home/u/my runs/ok.sh',
      '   WorkDir=/home/u/my runs',
      '   StdOut=/home/u/my runs/4.out',
      '   Power=',
      '',
    ].join('\n');
    expect(parseScontrolJobs(sample)).toEqual([
      {
        slurmJobId: '4',
        rawState: 'COMPLETED',
        state: 'COMPLETED',
        reason: null,
        exitCode: 0,
        signal: null,
        nodeList: 'vm',
        startedAt: '2026-11-23T19:54:16',
        endedAt: '2026-11-23T19:54:19',
        expectedStartAt: null,
        timeLimitAt: null,
        elapsedSeconds: 3,
        workDir: '/home/u/my runs',
      },
    ]);
  });

  it("returns [] for SLURM's messages and throws on output that is not scontrol's", () => {
    expect(parseScontrolJobs('slurm_load_jobs error: Invalid job id specified\n')).toEqual([]);
    expect(parseScontrolJobs('scontrol_print_job error: Invalid job id specified\n')).toEqual([]);
    expect(parseScontrolJobs('No jobs in the system\n')).toEqual([]);
    expect(() => parseScontrolJobs(recorded('squeue-states-final.txt'))).toThrow(SlurmParseError);
    expect(() => parseScontrolJobs('JobId=4 JobNa')).toThrow(SlurmParseError);
  });
});

describe('three views of the same finished jobs agree', () => {
  it('on state, times, elapsed time, nodes and work directory', () => {
    const squeue = byId(parseSqueue(recorded('squeue-states-final.txt')));
    const sacct = byId(parseSacct(recorded('sacct-states-final.txt')));
    const scontrol = byId(parseScontrolJobs(recorded('scontrol-oneline-final.txt')));
    const pick = ({ state, startedAt, endedAt, elapsedSeconds, nodeList, workDir }: SlurmJobStatus) => ({ state, startedAt, endedAt, elapsedSeconds, nodeList, workDir });
    let compared = 0;
    for (const [id, fromSacct] of sacct) {
      const fromSqueue = squeue.get(id);
      const fromScontrol = scontrol.get(id);
      if (!fromSqueue || !fromScontrol || !TERMINAL_STATES.has(fromSacct.state)) continue;
      expect(pick(fromSqueue), id).toEqual(pick(fromSacct));
      expect(pick(fromScontrol), id).toEqual(pick(fromSacct));
      compared += 1;
    }
    expect(compared).toBe(16); // all but the running job
  });
});

describe('parseSbatchParsable', () => {
  it('reads the recorded output and the cluster form', () => {
    expect(parseSbatchParsable(recorded('sbatch-parsable.txt'))).toBe('56');
    expect(parseSbatchParsable('16;cluster-a\n')).toBe('16');
    expect(parseSbatchParsable(recorded('sbatch-plain.txt'))).toBe('57');
    expect(parseSbatchParsable('Submitted batch job 16 on cluster gpu2\n')).toBe('16');
  });

  it('returns null when no job id was printed', () => {
    expect(parseSbatchParsable('')).toBeNull();
    expect(parseSbatchParsable('sbatch: error: Batch job submission failed: Invalid partition name specified\n')).toBeNull();
    expect(parseSbatchParsable('16 17\n')).toBeNull();
    expect(parseSbatchParsable('abc;16\n')).toBeNull();
  });
});

describe('parseElapsed', () => {
  it.each([
    ['0:05', 5],
    ['1:26', 86],
    ['00:01:26', 86],
    ['1-02:03:04', 93_784],
    ['365-00:00:00', 31_536_000],
    ['2-03', 183_600],
    ['00:00:01.500', 1],
  ])('%s → %d s', (text, seconds) => {
    expect(parseElapsed(text)).toBe(seconds);
  });

  // '0-199999999999999999999' was found by parsers.property.test.ts: an inexact number of seconds, not null.
  it.each(['UNLIMITED', 'INVALID', 'N/A', '', '5', '1:75', 'a:b', '0-199999999999999999999'])('%j → null', (text) => {
    expect(parseElapsed(text)).toBeNull();
  });
});

describe('robustness: nothing but SlurmParseError escapes', () => {
  const parsers = { parseSqueue, parseSacct, parseScontrolJobs, parseSbatchParsable } as const;
  const expectOnlyParseErrors = (input: string) => {
    for (const [name, parse] of Object.entries(parsers)) {
      try {
        const result = parse(input);
        if (Array.isArray(result)) for (const status of result) expect(JOB_STATES, name).toContain(status.state);
      } catch (error) {
        if (!(error instanceof SlurmParseError)) throw new Error(`${name} threw ${String(error)} on ${JSON.stringify(input)}`);
      }
    }
  };

  it('on every prefix of real outputs', () => {
    for (const name of ['squeue-states-final.txt', 'sacct-with-steps.txt', 'scontrol-multiline.txt']) {
      const text = recorded(name);
      for (let end = 0; end <= text.length; end += 1) expectOnlyParseErrors(text.slice(0, end));
    }
    // Thousands of parses: about a second on a quiet machine, several when the suites share two busy cores.
  }, 30_000);

  it('on random strings made of the characters SLURM outputs are made of', () => {
    let seed = 20261123;
    const random = () => {
      // mulberry32: a fixed seed, so a failure here reproduces
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const pieces = ['|', '\n', ' ', '=', ':', '-', '_', '[', ']', '(', ')', '+', '.', '%', '0', '7', '42', 'JobId=', 'JobState=', 'ArrayJobId=', 'ArrayTaskId=', 'RUNNING', 'CANCELLED by 1001', 'None', 'N/A', '2026-11-23T21:35:52', '1-02:03:04', 'é', '\r', '\u0000'];
    for (let round = 0; round < 3000; round += 1) {
      let input = '';
      const length = Math.floor(random() * 40);
      for (let i = 0; i < length; i += 1) input += pieces[Math.floor(random() * pieces.length)] ?? '';
      expectOnlyParseErrors(input);
      expectOnlyParseErrors(String.fromCharCode(...Array.from({ length }, () => Math.floor(random() * 0x3000))));
    }
  });
});

describe("a running job's time limit", () => {
  it("is squeue's end of a running job (start + its limit, the partition's DefaultTime when none was asked), none without a limit", () => {
    // The lab (Slurm 22.05.8): 4566 launched on gpu without --time (DefaultTime=01:00:00), 4567 with -t 7, 4500 on cpu (no limit).
    const [defaulted, asked, unlimited, pending] = parseSqueue(
      [
        '4566|RUNNING|None|gpu-a100|2026-12-05T05:32:53|2026-12-05T06:32:53|0:04|/home/mlops',
        '4567|RUNNING|None|gpu-a100|2026-12-05T05:32:53|2026-12-05T05:39:53|0:04|/home/mlops',
        '4500|RUNNING|None|cpu-01|2026-12-05T05:22:32|NONE|0:04|/home/mlops',
        '4501|PENDING|BeginTime||2026-12-05T05:24:37|2026-12-05T06:24:37|0:00|/home/mlops',
      ].join('\n'),
    );
    expect([defaulted?.timeLimitAt, asked?.timeLimitAt, unlimited?.timeLimitAt, pending?.timeLimitAt]).toEqual(['2026-12-05T06:32:53', '2026-12-05T05:39:53', null, null]);
    expect(defaulted?.endedAt).toBeNull();
  });
});
