// How a poll's answer lands on a job record that the job's lifecycle files may already have moved on.
import { describe, expect, it } from 'vitest';
import type { Job } from '../db/entities.js';
import { changeOf, currentRunRequeued, reportedBySlurm, requeued, scriptEnded, started, visibleState } from './transitions.js';
import { parseSqueue } from '../slurm/state.js';
import type { JobState, SlurmJobStatus } from '../slurm/state.js';

const answer = (state: JobState, rawState: string = state): SlurmJobStatus => ({
  slurmJobId: '42',
  rawState,
  state,
  reason: null,
  exitCode: state === 'COMPLETED' ? 0 : null,
  signal: null,
  nodeList: 'gpu-a100',
  startedAt: '2026-11-23T19:54:16',
  endedAt: state === 'COMPLETED' ? '2026-11-23T19:54:30' : null,
  expectedStartAt: null,
  timeLimitAt: null,
  elapsedSeconds: 14,
  workDir: null,
});

const jobIn = (state: JobState) => ({ state, exitCode: 0, endedAt: null }) as unknown as Job;

describe('reportedBySlurm', () => {
  it('keeps a lifecycle COMPLETING when the queue has not caught up and still says RUNNING', () => {
    const job = jobIn('COMPLETING');
    reportedBySlurm(job, answer('RUNNING'));
    expect(job.state).toBe('COMPLETING');
    expect(job.slurmState).toBe('RUNNING');
  });

  it('takes SLURM\'s final state after a lifecycle COMPLETING', () => {
    const job = jobIn('COMPLETING');
    reportedBySlurm(job, answer('COMPLETED'));
    expect(job.state).toBe('COMPLETED');
    expect(job.endedAt).toBeInstanceOf(Date);
  });

  it('takes a requeue back to PENDING, even after the script reported its end', () => {
    const job = jobIn('COMPLETING');
    reportedBySlurm(job, answer('PENDING'));
    expect(job.state).toBe('PENDING');
  });

  it('takes RUNNING over PENDING as it comes', () => {
    const job = jobIn('PENDING');
    reportedBySlurm(job, answer('RUNNING'));
    expect(job.state).toBe('RUNNING');
  });
});

describe("a pending job's expected start", () => {
  const inMinutes = (minutes: number) => new Date(Date.now() + minutes * 60_000);
  // SLURM's local time text, as squeue prints it (this server reads it in its own zone).
  const slurmText = (date: Date) => new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);

  it("is SLURM's estimate while the job waits, and is announced when it moves", () => {
    const job = jobIn('PENDING');
    const estimate = inMinutes(12);
    reportedBySlurm(job, { ...answer('PENDING'), reason: 'Resources', expectedStartAt: slurmText(estimate) });
    expect(job.estimatedStartAt?.getTime()).toBe(Math.floor(estimate.getTime() / 1000) * 1000);
    const before = changeOf(job).before;
    reportedBySlurm(job, { ...answer('PENDING'), reason: 'Resources', expectedStartAt: slurmText(inMinutes(40)) });
    expect(visibleState(job)).not.toBe(before);
  });

  it('is none when SLURM gives none, or only its year-ahead stand-in for a job without a time limit ahead of it', () => {
    const job = jobIn('PENDING');
    reportedBySlurm(job, { ...answer('PENDING'), expectedStartAt: null });
    expect(job.estimatedStartAt).toBeNull();
    reportedBySlurm(job, { ...answer('PENDING'), expectedStartAt: slurmText(inMinutes(365 * 24 * 60 - 5)) });
    expect(job.estimatedStartAt).toBeNull();
  });

  it('is gone once the job starts, whether the queue or its own start record says so first', () => {
    const polled = jobIn('PENDING');
    reportedBySlurm(polled, { ...answer('PENDING'), expectedStartAt: slurmText(inMinutes(5)) });
    reportedBySlurm(polled, answer('RUNNING'));
    expect(polled.estimatedStartAt).toBeNull();
    const recorded = jobIn('PENDING');
    reportedBySlurm(recorded, { ...answer('PENDING'), expectedStartAt: slurmText(inMinutes(5)) });
    started(recorded, new Date(), 'gpu-a100');
    expect(recorded.estimatedStartAt).toBeNull();
  });
});

// squeue lines of one job requeued with `scontrol requeue 4500` while it ran (the lab, Slurm 22.05.8,
// SQUEUE_FORMAT): it keeps its id, goes back to PENDING with reason BeginTime and a begin time 2 minutes on
// (no REQUEUED line was ever seen, polling each second), then runs again with a new start and completes.
const requeueRecording = {
  running: '4500|RUNNING|None|cpu-01|2026-12-05T05:22:32|NONE|0:04|/home/mlops/jobs/a/code',
  requeued: '4500|PENDING|BeginTime||2026-12-05T05:24:37|NONE|0:00|/home/mlops/jobs/a/code',
  runningAgain: '4500|RUNNING|None|cpu-01|2026-12-05T05:24:53|NONE|0:17|/home/mlops/jobs/a/code',
  completed: '4500|COMPLETED|None|cpu-01|2026-12-05T05:24:53|2026-12-05T05:25:19|0:26|/home/mlops/jobs/a/code',
};
const line = (text: string) => parseSqueue(text)[0]!;
const freshJob = () => ({ state: 'PENDING', exitCode: null, endedAt: null, startedAt: null, restarts: 0, requeues: [] }) as unknown as Job;

describe('a job requeued by scontrol, followed through its restarts', () => {
  it('goes RUNNING → PENDING → RUNNING → COMPLETED under the same id, never a final state between runs, one restart', () => {
    const job = freshJob();
    const seen: string[] = [];
    for (const text of [requeueRecording.running, requeueRecording.requeued, requeueRecording.requeued, requeueRecording.runningAgain, requeueRecording.completed]) {
      reportedBySlurm(job, line(text));
      seen.push(job.state);
      if (job.state !== 'COMPLETED') expect(job.endedAt).toBeNull();
    }
    expect(seen).toEqual(['RUNNING', 'PENDING', 'PENDING', 'RUNNING', 'COMPLETED']);
    expect(job.restarts).toBe(1);
    expect(job.requeues).toEqual([expect.objectContaining({ runStartedAt: new Date('2026-12-05T05:22:32').toISOString(), cause: null })]);
    expect(job.startedAt).toEqual(new Date('2026-12-05T05:24:53'));
  });

  it("takes the run its script's end record cut off as requeued, not ended: COMPLETING (exit 143) then PENDING", () => {
    const job = freshJob();
    reportedBySlurm(job, line(requeueRecording.running));
    scriptEnded(job, 143);
    reportedBySlurm(job, line(requeueRecording.requeued));
    expect(job.state).toBe('PENDING');
    expect(job.exitCode).toBeNull();
    expect(job.restarts).toBe(1);
  });

  it('counts a requeue and restart that both fell between two polls, by the later start', () => {
    const job = freshJob();
    reportedBySlurm(job, line(requeueRecording.running));
    reportedBySlurm(job, line(requeueRecording.runningAgain));
    expect(job.state).toBe('RUNNING');
    expect(job.restarts).toBe(1);
    reportedBySlurm(job, line(requeueRecording.runningAgain));
    expect(job.restarts).toBe(1);
  });

  it("counts a requeue its own script announced once, when the queue shows it too, and keeps it 'at its time limit'", () => {
    const job = freshJob();
    reportedBySlurm(job, line(requeueRecording.running));
    const before = changeOf(job);
    requeued(job, new Date('2026-12-05T05:23:30'), 'time-limit');
    expect(job.state).toBe('RUNNING');
    expect(visibleState(job)).not.toBe(before.before);
    expect(currentRunRequeued(job)).toBe(true);
    reportedBySlurm(job, line(requeueRecording.requeued));
    reportedBySlurm(job, line(requeueRecording.runningAgain));
    expect(job.restarts).toBe(1);
    expect(job.requeues.map((requeue) => requeue.cause)).toEqual(['time-limit']);
    expect(currentRunRequeued(job)).toBe(false);
  });

  it('does not take a lifecycle start the queue has not seen yet for a requeue', () => {
    const job = freshJob();
    started(job, new Date('2026-12-05T05:22:33'), 'cpu-01');
    reportedBySlurm(job, line(requeueRecording.running));
    expect(job.restarts).toBe(0);
    expect(job.startedAt).toEqual(new Date('2026-12-05T05:22:32'));
  });
});
