// The daily sacct read's parser, on lines the lab printed for
// `SLURM_TIME_FORMAT=standard sacct -X -n -P -S now-3days -E now -u mlops -o JobID,State,Partition,AllocTRES,ReqTRES,Submit,Start,End,ExitCode`
// (test/fixtures/slurm/sacct-usage.txt, 2026-12-05: one line of each kind among 4,044: states, GPUs held or only
// asked for, array tasks and their folded pending rests, a job over two nodes of two GPU types).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SlurmParseError } from './state.js';
import { gpusOf, parseAccountingRecords } from './usage.js';

const lab = readFileSync(new URL('../../test/fixtures/slurm/sacct-usage.txt', import.meta.url), 'utf8');

describe('parseAccountingRecords', () => {
  const records = parseAccountingRecords(lab);
  const byId = new Map(records.map((record) => [record.slurmJobId, record]));

  it('reads every job and array task, and leaves out the folded rests of arrays that never ran', () => {
    expect(records).toHaveLength(19);
    expect(records.some((record) => record.slurmJobId.includes('['))).toBe(false);
  });

  it('takes the GPUs a job held, with their type', () => {
    expect(byId.get('27')).toEqual({ slurmJobId: '27', rawState: 'COMPLETED', state: 'COMPLETED', partition: 'gpu', gpus: 1, gpuType: 'h100', submittedAt: '2026-12-04T19:01:48', startedAt: '2026-12-04T19:01:50', endedAt: '2026-12-04T19:01:51', exitCode: 0 });
    expect(byId.get('4564_3')).toMatchObject({ gpus: 2, gpuType: 'a100', state: 'COMPLETED' });
    // Two nodes, an a100 on one and an h100 on the other: GPUs of no one type.
    expect(byId.get('3250')).toMatchObject({ gpus: 2, gpuType: 'any' });
  });

  it('takes what a job that never ran asked for, and nothing for one that ran without GPUs', () => {
    expect(byId.get('4345')).toMatchObject({ state: 'CANCELLED', rawState: 'CANCELLED by 1001', gpus: 2, gpuType: 'a100', startedAt: null, endedAt: '2026-12-05T05:08:57' });
    expect(byId.get('277')).toMatchObject({ gpus: 0, gpuType: null, partition: 'cpu' });
    // Refused at start (9 A100s on a node of 4): it ran for no time and held nothing.
    expect(byId.get('25')).toMatchObject({ state: 'FAILED', exitCode: 1, gpus: 0 });
  });

  it('reads every kind of end', () => {
    expect(byId.get('23')).toMatchObject({ state: 'FAILED', exitCode: 3 });
    expect(byId.get('26')).toMatchObject({ state: 'TIMEOUT' });
    expect(byId.get('181')).toMatchObject({ state: 'CANCELLED', gpus: 2 });
  });

  it('knows a running job has no end yet, and refuses output that is not sacct -P', () => {
    const [running] = parseAccountingRecords('11|RUNNING|gpu|billing=1,cpu=1,gres/gpu:a100=2,gres/gpu=2,mem=100M,node=1|billing=1|2026-12-05T10:00:00|2026-12-05T10:00:01|Unknown|0:0\n');
    expect(running).toMatchObject({ state: 'RUNNING', gpus: 2, startedAt: '2026-12-05T10:00:01', endedAt: null });
    expect(() => parseAccountingRecords('Last login: Sat Dec  5 10:00:00 2026\n')).toThrow(SlurmParseError);
    expect(() => parseAccountingRecords('Slurm accounting storage is disabled\n')).toThrow(/accounting storage is disabled/);
  });
});

describe('gpusOf', () => {
  it('reads SLURM TRES lists with and without GPU types', () => {
    expect(gpusOf('billing=1,cpu=1,gres/gpu:a100=2,gres/gpu=2,mem=100M,node=1')).toEqual({ count: 2, type: 'a100' });
    expect(gpusOf('cpu=4,gres/gpu=4,node=1')).toEqual({ count: 4, type: 'any' });
    expect(gpusOf('billing=1,cpu=1,mem=100M,node=1')).toBeNull();
    expect(gpusOf('')).toBeNull();
  });
});
