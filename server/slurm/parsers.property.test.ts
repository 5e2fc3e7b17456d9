// Every SLURM output parser over random text and over recorded outputs that were cut, shuffled, spliced and fed to
// the wrong parser: each returns a well-formed value or throws its own typed error, never a TypeError, RangeError or
// a value with NaN, Infinity or an id the rest of the server cannot use.
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError, SlurmError } from '../errors.js';
import type { Transport } from '../ssh/index.js';
import { probeCluster } from './commands.js';
import {
  GpuOutputError,
  nodeTakesJobs,
  parseGpuAvailability,
  parseGpuInventory,
  parseGpuRequest,
  parseNodeGres,
  parsePendingGpuDemand,
  parseScontrolNodes,
  parseTresGpus,
  pendingTaskCount,
  type GpuCounts,
} from './gpu.js';
import { parseSinfoPartitions, parseSlurmVersion, scontrolFields } from './parse.js';
import { cancelJob, findSubmission, homeDirectory, readOutputHead, readOutputTail, removeCheckout, submitBatch } from './jobs.js';
import { parsePollOutput, pollJobs, readJobStates } from './poll.js';
import { JOB_STATES, normalizeSlurmState, parseElapsed, parseSacct, parseSbatchParsable, parseScontrolJobs, parseSqueue, SlurmParseError, type SlurmJobStatus } from './state.js';

const fixturesDir = new URL('../../test/fixtures/slurm/', import.meta.url);
const recorded = readdirSync(fixturesDir)
  .filter((name) => name.endsWith('.txt'))
  .map((name) => readFileSync(new URL(name, fixturesDir), 'utf8'));
// The transcript holds many commands' outputs; its blank-line separated pieces are outputs (and notes) of their own.
const pieces = recorded.flatMap((text) => text.split(/\n\s*\n/)).filter((piece) => piece.trim() !== '');
const MARK = '@@mission-control';
const pollOutputs = [
  `${recorded.find((text) => text.startsWith('39|'))}${MARK} squeue 0\n${recorded.find((text) => text.includes('|COMPLETED|None|0:0|'))}${MARK} accounting on\n`,
  `${MARK} squeue 0\n${recorded.find((text) => text.startsWith('JobId='))}${MARK} accounting off\n`,
  `slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n${MARK} squeue 1\n`,
];
const corpus = [...recorded, ...pieces, ...pollOutputs];

const lines = (text: string) => text.split('\n');
const SPLICE = ['|', '||', '=', ' ', '\n', '\r\n', '\t', '\0', ':', ',', '(', ')', '[', ']', '_', '+', '-', '*', '.', 'N/A', '(null)', 'Unknown', '99999999999999999999', '-1', 'NaN', 'Infinity', '1e999', '\u2028', '\ufeff', 'é', `${MARK} squeue 0\n`, `${MARK} accounting off\n`, '--mission-control--\n', 'JobId=', 'NodeName=', 'gpu:', 'gres/gpu:a100=', 'Reason='];

const mangled = fc.oneof(
  // A recorded output cut anywhere, as a dropped connection or a full pipe leaves it.
  fc.constantFrom(...corpus).chain((text) => fc.tuple(fc.nat(text.length), fc.nat(text.length)).map(([a, b]) => text.slice(Math.min(a, b), Math.max(a, b)))),
  fc.constantFrom(...corpus).chain((text) => fc.nat(text.length).map((at) => text.slice(0, at))),
  // Lines dropped, repeated and reordered; several outputs run together.
  fc.constantFrom(...corpus).chain((text) => fc.shuffledSubarray(lines(text)).map((kept) => kept.join('\n'))),
  fc.array(fc.constantFrom(...corpus), { minLength: 2, maxLength: 3 }).map((texts) => texts.join('')),
  // Something odd spliced in at several places.
  fc
    .tuple(fc.constantFrom(...corpus), fc.array(fc.tuple(fc.nat(), fc.oneof(fc.constantFrom(...SPLICE), fc.string({ unit: 'binary', maxLength: 4 }))), { minLength: 1, maxLength: 6 }))
    .map(([text, edits]) => edits.reduce((out, [at, piece]) => out.slice(0, at % (out.length + 1)) + piece + out.slice(at % (out.length + 1)), text)),
  // Characters replaced one by one.
  fc
    .tuple(fc.constantFrom(...corpus), fc.array(fc.tuple(fc.nat(), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), { minLength: 1, maxLength: 10 }))
    .map(([text, edits]) => edits.reduce((out, [at, c]) => (out.length === 0 ? out : out.slice(0, at % out.length) + c + out.slice((at % out.length) + 1)), text)),
);
const fieldish = fc.array(fc.oneof(fc.constantFrom(...SPLICE), fc.stringMatching(/^[A-Za-z0-9_:=/.-]{0,8}$/)), { maxLength: 12 }).map((parts) => parts.join(''));
const structured = fc.array(fc.array(fieldish, { maxLength: 10 }).map((fields) => fields.join('|')), { maxLength: 6 }).map((rows) => rows.join('\n'));
const anyOutput = fc.oneof({ weight: 4, arbitrary: mangled }, { weight: 1, arbitrary: structured }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) }, { weight: 1, arbitrary: fc.constantFrom(...corpus) });

const RUNS = { numRuns: 2000 };

/** Runs a parser; anything it throws must be one of the errors it declares. */
function parsed<T>(parse: () => T, ...allowed: Array<abstract new (...args: never[]) => Error>): T | null {
  try {
    return parse();
  } catch (error) {
    if (!allowed.some((type) => error instanceof type)) throw error;
    return null;
  }
}

const isCount = (value: unknown) => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const JOB_ID = /^\d+(?:_(?:\d+|\[[^\]\s|]*\]))?(?:\+\d+)?$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/;

function expectWellFormedStatus(status: SlurmJobStatus): void {
  expect(status.slurmJobId).toMatch(JOB_ID);
  expect(JOB_STATES).toContain(status.state);
  expect(status.rawState.trim()).not.toBe('');
  for (const value of [status.exitCode, status.signal, status.elapsedSeconds]) expect(value === null || isCount(value)).toBe(true);
  for (const value of [status.startedAt, status.endedAt]) expect(value === null || TIMESTAMP.test(value)).toBe(true);
  for (const value of [status.reason, status.nodeList, status.workDir]) expect(value === null || typeof value === 'string').toBe(true);
}

function expectWellFormedCounts(counts: GpuCounts): void {
  for (const value of [counts.total, counts.free, counts.allocated, counts.stranded, counts.pendingDemand]) expect(isCount(value)).toBe(true);
  expect(counts.free + counts.allocated + counts.stranded).toBe(counts.total);
}

// Thousands of generated cases per property: seconds on a loaded machine, beyond the default per-test limit.
describe('job state parsers, for any output', { timeout: 60_000 }, () => {
  it.each([
    ['squeue', parseSqueue],
    ['sacct', parseSacct],
    ['scontrol show job', parseScontrolJobs],
  ] as const)('%s returns well-formed statuses or throws SlurmParseError', (_name, parse) => {
    fc.assert(
      fc.property(anyOutput, (output) => {
        parsed(() => parse(output), SlurmParseError)?.forEach(expectWellFormedStatus);
      }),
      RUNS,
    );
  });

  it('sbatch --parsable gives a job id or null', () => {
    fc.assert(
      fc.property(anyOutput, (output) => {
        const id = parseSbatchParsable(output);
        expect(id === null || /^\d+$/.test(id)).toBe(true);
      }),
      RUNS,
    );
  });

  it('state words and durations map into their types', () => {
    fc.assert(
      fc.property(fc.oneof(fieldish, fc.string({ unit: 'binary', maxLength: 30 })), (text) => {
        expect(JOB_STATES).toContain(normalizeSlurmState(text));
        const seconds = parseElapsed(text);
        expect(seconds === null || isCount(seconds)).toBe(true);
      }),
      RUNS,
    );
  });

  it('the poll script output gives queue and finished statuses, or SlurmError / SlurmParseError', () => {
    fc.assert(
      fc.property(anyOutput, (output) => {
        const result = parsed(() => parsePollOutput(output), SlurmError, SlurmParseError);
        if (result) [...result.queue, ...result.finished].forEach(expectWellFormedStatus);
      }),
      RUNS,
    );
  });
});

describe('cluster and GPU parsers, for any output', { timeout: 60_000 }, () => {
  it('sinfo: version text or null, partitions with whole node counts', () => {
    fc.assert(
      fc.property(anyOutput, (output) => {
        const version = parseSlurmVersion(output);
        expect(version === null || /^\d[\w.-]*$/.test(version)).toBe(true);
        for (const partition of parseSinfoPartitions(output)) {
          expect(partition.name).not.toMatch(/[|\n]/);
          expect(Number.isSafeInteger(partition.nodes)).toBe(true);
          for (const state of partition.states) expect(Number.isSafeInteger(state.nodes)).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it('the GPU script output gives consistent whole counts, or GpuOutputError', () => {
    fc.assert(
      fc.property(anyOutput, fc.option(fc.constantFrom(['a100'], ['h100', 'gpu'], []), { nil: undefined }), (output, allowedGpuTypes) => {
        const inventory = parsed(() => parseGpuInventory(output), GpuOutputError);
        if (!inventory) return;
        for (const node of inventory.nodes) for (const gpu of node.gpus) expect(isCount(gpu.total) && isCount(gpu.allocated) && gpu.allocated <= gpu.total).toBe(true);
        for (const request of inventory.pending) expect(isCount(request.count)).toBe(true);
        const summary = parseGpuAvailability(output, { allowedGpuTypes });
        summary.byType.forEach(expectWellFormedCounts);
        summary.byPartition.forEach(expectWellFormedCounts);
        for (const node of summary.nodesWithFreeGpus) expect(isCount(node.free) && node.free > 0).toBe(true);
        for (const node of summary.unavailableNodes) expect(isCount(node.gpus)).toBe(true);
      }),
      RUNS,
    );
  });

  it('node lines, GRES, TRES, pending requests and array ranges each give whole counts', () => {
    fc.assert(
      fc.property(anyOutput, fieldish, (output, field) => {
        for (const node of parseScontrolNodes(output)) {
          expect(typeof node.available).toBe('boolean');
          for (const gpu of node.gpus) expect(isCount(gpu.total) && isCount(gpu.allocated)).toBe(true);
        }
        for (const line of lines(output)) expect(scontrolFields(line)).toBeInstanceOf(Map);
        for (const text of [field, output]) {
          for (const count of [...parseNodeGres(text).values(), ...parseTresGpus(text).values()]) expect(isCount(count)).toBe(true);
          for (const request of parseGpuRequest(text)) expect(isCount(request.count) && request.count > 0).toBe(true);
          const tasks = pendingTaskCount(text);
          expect(isCount(tasks) && tasks >= 1).toBe(true);
          expect(typeof nodeTakesJobs(text)).toBe('boolean');
        }
        for (const request of parsePendingGpuDemand(output, field)) expect(isCount(request.count)).toBe(true);
      }),
      RUNS,
    );
  });
});

// The commands read what a transport answers with the parsers above, plus a few inline reads of their own (file
// sizes, ids); whatever the cluster answers, they resolve to a well-formed value or reject with an error the API
// knows how to show (an AppError), never one it masks as "Unexpected error".
describe('commands, for any answer from the cluster', { timeout: 60_000 }, () => {
  const answer = fc.record({
    stdout: anyOutput,
    stderr: fc.oneof(fc.constant(''), anyOutput),
    exitCode: fc.constantFrom(0, 0, 0, 1, 2, 90, 255, null),
  });
  const transportAnswering = (result: { stdout: string; stderr: string; exitCode: number | null }): Transport => ({
    exec: async () => ({ ...result, durationMs: 1 }),
    close: async () => {},
  });
  const submission = { cloneUrl: 'git@host:org/repo.git', repoDir: '/w/repos/r.git', commitSha: 'a'.repeat(40), workDir: '/w/jobs/t/code', jobDir: '/w/jobs/t', script: '#!/bin/sh\n' };

  async function settled<T>(run: () => Promise<T>): Promise<T | null> {
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      return null;
    }
  }

  it('job commands resolve to well-formed values or reject with an AppError', async () => {
    await fc.assert(
      fc.asyncProperty(answer, async (result) => {
        const transport = transportAnswering(result);
        (await settled(() => readJobStates(transport, ['39', '40', '52_1'])))?.forEach(expectWellFormedStatus);
        const id = await settled(() => submitBatch(transport, submission));
        expect(id === null || /^\d+$/.test(id)).toBe(true);
        const found = await settled(() => findSubmission(transport, submission.jobDir, submission.workDir));
        expect(found === null || /^\d+$/.test(found)).toBe(true);
        const tail = await settled(() => readOutputTail(transport, '/w/jobs/t/output.log', 1024));
        if (tail) expect(tail.size === null || isCount(tail.size)).toBe(true);
        await settled(() => cancelJob(transport, '39'));
        await settled(() => removeCheckout(transport, submission.workDir));
        expect(typeof (await readOutputHead(transport, '/w/jobs/t/output.log', 1024))).toBe('string');
      }),
      { numRuns: 1000 },
    );
  });

  it('cluster, poll and home directory commands resolve to well-formed values or reject with an AppError', async () => {
    await fc.assert(
      fc.asyncProperty(answer, async (result) => {
        const transport = transportAnswering(result);
        const probe = await settled(() => probeCluster(transport));
        if (probe) for (const partition of probe.partitions) expect(Number.isSafeInteger(partition.nodes)).toBe(true);
        const poll = await settled(() => pollJobs(transport, ['39', '40']));
        if (poll) [...poll.queue, ...poll.finished].forEach(expectWellFormedStatus);
        const home = await settled(() => homeDirectory(transport));
        expect(home === null || home.startsWith('/')).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
