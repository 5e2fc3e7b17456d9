// SLURM's verdict before a launch: `sbatch --test-only`'s real answers (recorded on the lab) parsed into an outcome,
// a start and the field a refusal concerns; one question per distinct directives a minute; a per-token limit on fresh
// questions; an unreachable cluster is "not asked", never an error of the preview.
import { describe, expect, it } from 'vitest';
import { parseTestOnly, refusedField, testOnlyCommand } from '../slurm/preflight.js';
import type { ExecOptions, Transport } from '../ssh/transport.js';
import { PREFLIGHTS_PER_MINUTE, createPreflight } from './preflight.js';

const ACCEPTED = 'sbatch: Job 4195 to start at 2026-12-05T04:47:07 using 1 processors on nodes gpu-a100 in partition gpu\n';
// The first admin, whose login is the cluster entry's own account.
const OWNER = 1;
const script = (tag: string, mem = '100M') => `#!/bin/bash\n#SBATCH --job-name=run-${tag}\n#SBATCH --mem=${mem}\n#SBATCH --output=/w/jobs/${tag}/output.log\n#SBATCH --chdir=/w/jobs/${tag}/code\necho ${tag}\n`;

function cluster(answer: (stdin: string) => { exitCode: number; stderr: string } | Error) {
  const asked: string[] = [];
  // Whose login each command went over: answers depend on the account's limits, so they are never shared.
  const askedBy: number[] = [];
  const transport = {
    async exec(argv: readonly string[], options?: ExecOptions) {
      expect(argv).toEqual(testOnlyCommand());
      asked.push(options?.stdin ?? '');
      const result = answer(options?.stdin ?? '');
      if (result instanceof Error) throw result;
      return { stdout: '', durationMs: 1, ...result };
    },
  } as unknown as Transport;
  return {
    asked,
    askedBy,
    clusters: {
      transport: async (_cluster: string, userId: number) => {
        askedBy.push(userId);
        return transport;
      },
    } as never,
  };
}

describe('sbatch --test-only', () => {
  it("parses SLURM's acceptance and its refusals as the lab printed them", () => {
    expect(parseTestOnly(0, ACCEPTED)).toEqual({ accepted: true, startAt: '2026-12-05T04:47:07', nodes: 'gpu-a100', partition: 'gpu', message: ACCEPTED.replace('sbatch: ', '').trim() });
    expect(parseTestOnly(1, 'allocation failure: Requested node configuration is not available\n')).toMatchObject({ accepted: false, message: 'Requested node configuration is not available' });
    expect(parseTestOnly(1, 'sbatch: error: invalid partition specified: nope\nallocation failure: Invalid partition name specified\n').message).toBe('invalid partition specified: nope; Invalid partition name specified');
    expect(parseTestOnly(1, '').message).toBe('sbatch --test-only exited with 1 and said nothing');
    // Exit 0 without the acceptance line is not an acceptance.
    expect(parseTestOnly(0, 'sbatch: something else\n').accepted).toBe(false);
  });

  it('names the field a refusal concerns when its words do', () => {
    expect(refusedField('invalid partition specified: nope', null)).toBe('partition');
    expect(refusedField('Invalid account or account/partition combination specified', null)).toBe('account');
    expect(refusedField('Requested time limit is invalid (missing or exceeds some limit)', null)).toBe('timeLimit');
    expect(refusedField('Memory specification can not be satisfied', null)).toBe('memory');
    expect(refusedField('Invalid generic resource (gres) specification', 'a100')).toBe('gpuType');
    expect(refusedField('Requested node configuration is not available', null)).toBeNull();
  });
});

describe('preflight', () => {
  it('asks once per user for the same directives (whatever the tag) and again for others, and after a minute', async () => {
    let now = 1_000_000;
    const { asked, askedBy, clusters } = cluster(() => ({ exitCode: 0, stderr: ACCEPTED }));
    const preflight = createPreflight({ clusters, clock: () => now });
    const first = await preflight.check('lab', OWNER, script('aaaaaaaaaaaa'), null, 'token:1');
    expect(first).toMatchObject({ outcome: 'ACCEPTED', partition: 'gpu', nodes: 'gpu-a100', field: null });
    expect(await preflight.check('lab', OWNER, script('bbbbbbbbbbbb'), null, 'token:2')).toBe(first);
    await preflight.check('lab', OWNER, script('cccccccccccc', '200M'), null, 'token:1');
    expect(asked).toHaveLength(2);
    // The same directives from another user are asked again, over that user's own login.
    expect(await preflight.check('lab', 2, script('aaaaaaaaaaaa'), null, 'token:3')).not.toBe(first);
    expect(askedBy).toEqual([OWNER, OWNER, 2]);
    now += 61_000;
    await preflight.check('lab', OWNER, script('dddddddddddd'), null, 'token:1');
    expect(asked).toHaveLength(4);
  });

  it('maps a refusal to its field, and answers NOT_ASKED past the per-token limit or when the cluster cannot be reached', async () => {
    const { clusters } = cluster((stdin) => (stdin.includes('--mem=9T') ? { exitCode: 1, stderr: 'sbatch: error: Memory specification can not be satisfied\n' } : { exitCode: 0, stderr: ACCEPTED }));
    const preflight = createPreflight({ clusters });
    expect(await preflight.check('lab', OWNER, script('aaaaaaaaaaaa', '9T'), null, 'token:1')).toMatchObject({ outcome: 'REFUSED', field: 'memory', message: 'Memory specification can not be satisfied' });
    for (let index = 1; index < PREFLIGHTS_PER_MINUTE; index++) expect((await preflight.check('lab', OWNER, script('aaaaaaaaaaaa', `${index}M`), null, 'token:1')).outcome).toBe('ACCEPTED');
    const limited = await preflight.check('lab', OWNER, script('aaaaaaaaaaaa', '999M'), null, 'token:1');
    expect(limited).toMatchObject({ outcome: 'NOT_ASKED', estimatedStartAt: null });
    expect(limited.message).toMatch(/more than 20 new previews a minute/);
    // Another token is not limited by the first; a cached answer is free for every token of its user.
    expect((await preflight.check('lab', OWNER, script('aaaaaaaaaaaa', '999M'), null, 'token:2')).outcome).toBe('ACCEPTED');
    expect((await preflight.check('lab', OWNER, script('bbbbbbbbbbbb', '1M'), null, 'token:1')).outcome).toBe('ACCEPTED');

    // A cluster that does not answer in time: the preview goes on without the verdict; the answer, when it comes, is
    // kept for the next preview of the same directives.
    let answer!: (value: { exitCode: number; stderr: string }) => void;
    const slow = { transport: async () => ({ exec: () => new Promise((resolve) => (answer = (value) => resolve({ stdout: '', durationMs: 1, ...value }))) }) } as never;
    const waiting = createPreflight({ clusters: slow, waitMs: 50 });
    expect(await waiting.check('lab', OWNER, script('aaaaaaaaaaaa'), null, 'token:1')).toMatchObject({ outcome: 'NOT_ASKED', message: 'SLURM did not answer within 0.05 s: it will be asked at launch.' });
    answer({ exitCode: 0, stderr: ACCEPTED });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect((await waiting.check('lab', OWNER, script('bbbbbbbbbbbb'), null, 'token:1')).outcome).toBe('ACCEPTED');

    const down = createPreflight({ clusters: cluster(() => new Error('lab: connect ECONNREFUSED 127.0.0.1:2222\nmore')).clusters });
    expect(await down.check('lab', OWNER, script('aaaaaaaaaaaa'), null, 'token:1')).toMatchObject({ outcome: 'NOT_ASKED', message: 'SLURM could not be asked: lab: connect ECONNREFUSED 127.0.0.1:2222' });
  });
});
