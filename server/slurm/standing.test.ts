import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { standInShell } from '../../test/stand-in-shell.js';
import { describe, expect, it } from 'vitest';
import { gpuAvailabilityCommand, parseGpuInventory } from './gpu.js';
import { EMPTY_STANDING, parseFairShare, parseGpuLimits, parseOwnJobs, parseStandingConfig, parseUserStanding } from './standing.js';

const fixture = (name: string) => readFileSync(new URL(`../../test/fixtures/slurm/${name}`, import.meta.url), 'utf8');
const SECTION = '--mission-control--\n';
const LAB = fixture('cluster-check-lab-standing.txt');
const OWN_JOBS = fixture('squeue-own-jobs-gpus.txt');

/** The recorded lab output with some of its sections (by index) replaced: how a site configured otherwise answers. */
function withSections(replacements: Record<number, string>): string {
  const sections = LAB.split(SECTION);
  for (const [index, text] of Object.entries(replacements)) sections[Number(index)] = text;
  return sections.join(SECTION);
}
const CONFIG = 4;
const SSHARE = 5;
const ASSOC = 6;
const QOS = 7;
const JOBS = 8;
/** A site with the multifactor scheduler that enforces limits: the lab's config lines otherwise. */
const ENFORCING = LAB.split(SECTION)[CONFIG]!.replace('priority/basic', 'priority/multifactor').replace('AccountingStorageEnforce = none', 'AccountingStorageEnforce = associations,limits,qos');

describe('the cluster check reads the standing in its one command', () => {
  it('asks sshare, sacctmgr (under timeout) and squeue of the user only, each tolerated to fail', () => {
    const script = gpuAvailabilityCommand()[2]!;
    expect(script).toContain(`$T sshare -U -u "$(id -un)" -P -n -o Account,User,FairShare 2>/dev/null`);
    expect(script).toMatch(/\$T sacctmgr -P -n show assoc user="\$\(id -un\)" format=Cluster,Account,Partition,GrpTRES,MaxTRES,MaxTRESPerUser,QOS 2>\/dev\/null/);
    expect(script).toMatch(/\$T sacctmgr -P -n show qos format=Name,MaxTRESPerUser,GrpTRES,MaxJobsPerUser,MaxTRES 2>\/dev\/null/);
    expect(script).toContain(`squeue -h -u "$(id -un)" -t R,PD -O 'JobArrayID:|,`);
    expect(script.trimEnd().endsWith('exit 0')).toBe(true);
  });

  it('on the real lab (22.05, priority/basic, AccountingStorageEnforce=none, no limits) says nothing but the GPUs', () => {
    const inventory = parseGpuInventory(LAB);
    // The lab's sshare prints 0.000000 under priority/basic: meaningless, so not shown.
    expect(LAB.split(SECTION)[SSHARE]).toBe('lab|mlops|0.000000\n');
    expect(inventory.standing).toEqual(EMPTY_STANDING);
    // The sections before it are read as before.
    expect(inventory.partitions.map((partition) => partition.name)).toEqual(['gpu', 'cpu']);
    expect(inventory.siteMemory.defMemPerCpuMb).toBe(100);
    expect(inventory.nodes).toHaveLength(3);
  });

  it('an output from before the standing sections (the earlier lab recording) has an empty standing', () => {
    expect(parseGpuInventory(fixture('cluster-check-lab.txt')).standing).toEqual(EMPTY_STANDING);
  });

  it('a site forbidding sshare and sacctmgr (empty sections) gives an empty standing, not an error', () => {
    expect(parseGpuInventory(withSections({ [CONFIG]: ENFORCING, [SSHARE]: '', [ASSOC]: '', [QOS]: '', [JOBS]: '' })).standing).toEqual(EMPTY_STANDING);
  });
});

describe('the command asks sshare and sacctmgr only where their answer means something', () => {
  /** Runs the real script in sh with stand-ins that log which programs ran; scontrol prints the given config lines. */
  async function programsRun(config: string): Promise<string[]> {
    const shell = standInShell('mc-standing-');
    try {
      const log = join(shell.root, 'ran');
      writeFileSync(join(shell.root, 'config'), config);
      const stub = (name: string, body = '') => {
        writeFileSync(join(shell.bin, name), `#!/bin/sh\necho "${name} $1 $2" >> ${log}\n${body}\n`);
        chmodSync(join(shell.bin, name), 0o755);
      };
      stub('scontrol', `case "$*" in *config*) cat ${join(shell.root, 'config')};; esac`);
      for (const name of ['squeue', 'sshare', 'sacctmgr']) stub(name);
      const result = await shell.shell.exec(gpuAvailabilityCommand());
      expect(result.exitCode).toBe(0);
      return readFileSync(log, 'utf8').split('\n').filter((line) => /^(sshare|sacctmgr)/.test(line));
    } finally {
      await shell.close();
    }
  }

  it("the lab's config (priority/basic, AccountingStorageEnforce = none): neither", async () => {
    expect(await programsRun(LAB.split(SECTION)[CONFIG]!)).toEqual([]);
  });
  it('multifactor and limits enforced: sshare and both sacctmgr questions', async () => {
    expect(await programsRun(ENFORCING)).toEqual(['sshare -U -u', 'sacctmgr -P -n', 'sacctmgr -P -n']);
  });
  it('multifactor with associations enforced but not limits: sshare only; safe implies limits', async () => {
    expect(await programsRun(ENFORCING.replace('associations,limits,qos', 'associations,qos'))).toEqual(['sshare -U -u']);
    expect(await programsRun(ENFORCING.replace('associations,limits,qos', 'safe'))).toEqual(['sshare -U -u', 'sacctmgr -P -n', 'sacctmgr -P -n']);
  });
  it('a config that cannot be read: both, the parsers knowing no better', async () => {
    expect(await programsRun('')).toEqual(['sshare -U -u', 'sacctmgr -P -n', 'sacctmgr -P -n']);
  });
});

describe('parseFairShare', () => {
  const multifactor = parseStandingConfig(ENFORCING);
  it("reads the user's factor per account under multifactor", () => {
    expect(parseFairShare('lab|mlops|0.823529\nother|mlops|0.25\n', multifactor)).toEqual([
      { account: 'lab', factor: 0.823529 },
      { account: 'other', factor: 0.25 },
    ]);
  });
  it('drops account rows, headers, errors and values outside 0..1', () => {
    expect(parseFairShare('Account|User|FairShare\nroot||1.000000\nlab|mlops|1.5\nsshare: error: Access denied\nlab|mlops|0.5\n', multifactor)).toEqual([{ account: 'lab', factor: 0.5 }]);
  });
  it('is empty under priority/basic, and read when the config is unknown', () => {
    expect(parseFairShare('lab|mlops|0.000000\n', parseStandingConfig(LAB.split(SECTION)[CONFIG]!))).toEqual([]);
    expect(parseFairShare('lab|mlops|0.4\n', parseStandingConfig(''))).toEqual([{ account: 'lab', factor: 0.4 }]);
  });
});

describe('parseOwnJobs (recorded on the lab: two held GPU jobs among two without GPUs)', () => {
  it('counts the total of each job once, typed entries not added to the untyped one', () => {
    expect(parseOwnJobs(OWN_JOBS)).toEqual([
      { running: false, account: 'lab', qos: 'normal', partitions: ['gpu'], gpus: 1 },
      { running: false, account: 'lab', qos: 'normal', partitions: ['gpu'], gpus: 2 },
    ]);
  });
  it('counts each task of a pending array as the lab prints it (recorded: 15 held tasks of a100×2)', () => {
    expect(parseOwnJobs(fixture('squeue-own-jobs-array.txt'))).toEqual([{ running: false, account: 'lab', qos: 'normal', partitions: ['gpu'], gpus: 30 }]);
  });

  it('counts each task of a pending array, not expanded by squeue (-r would print 10,000 lines for 10,000 tasks)', () => {
    expect(parseOwnJobs('95_[0-15%4]|PD|lab|normal|gpu|cpu=1,gres/gpu=2|\n95_16|R|lab|normal|gpu|cpu=1,gres/gpu=2|\n96_[0-4294967294]|PD|lab|normal|gpu|gres/gpu=8|\n').map((job) => [job.running, job.gpus])).toEqual([
      [false, 32],
      [true, 2],
      [false, 2 ** 31 - 1],
    ]);
  });

  it('sums typed entries where only they are given, and tells running from pending', () => {
    expect(parseOwnJobs('7|R|lab|normal|gpu|cpu=2,gres/gpu:a100=2,gres/gpu:h100=1|\n8|CG|lab|normal|gpu|gres/gpu=4|\n')).toEqual([
      { running: true, account: 'lab', qos: 'normal', partitions: ['gpu'], gpus: 3 },
    ]);
  });
});

describe('parseGpuLimits (hand-made limited variants of the lab recording)', () => {
  const config = parseStandingConfig(ENFORCING);
  const jobs = parseOwnJobs(`${OWN_JOBS}4540|R|lab|normal|gpu|cpu=1,mem=100M,node=1,billing=1,gres/gpu=3,gres/gpu:a100=3|\n4541|R|lab|high|gpu|cpu=1,gres/gpu=1|\n`);

  it("takes the QOS's MaxTRESPerUser of the QOS the association allows, with the user's GPUs in that QOS", () => {
    const limits = parseGpuLimits('lab|lab|||||normal,high\n', 'normal|gres/gpu=8|gres/gpu=64|4|\nhigh|cpu=4||||\nother|gres/gpu=1|||\n', jobs, config);
    expect(limits).toEqual([{ source: 'qos', name: 'normal', scope: 'perUser', gpus: 8, running: 3, pending: 3 }]);
  });

  it("takes the association's GrpTRES or MaxTRESPerUser (the lower) per user and its MaxTRES per job, on this cluster only", () => {
    const limits = parseGpuLimits('lab|lab||gres/gpu=6|gres/gpu=2|gres/gpu=4|normal\nlab|lab|cpu|gres/gpu=1|||normal\nelsewhere|lab||gres/gpu=1|||normal\n', 'normal||||\n', jobs, config);
    expect(limits).toEqual([
      { source: 'association', name: 'lab', scope: 'perUser', gpus: 4, running: 4, pending: 3 },
      { source: 'association', name: 'lab', scope: 'perJob', gpus: 2, running: 0, pending: 0 },
      { source: 'association', name: 'lab on cpu', scope: 'perUser', gpus: 1, running: 0, pending: 0 },
    ]);
  });

  it('ignores typed-only and non-GPU limits, and every limit where the site does not enforce them (the lab)', () => {
    expect(parseGpuLimits('lab|lab||gres/gpu:a100=2,cpu=8|||normal\n', 'normal|cpu=2|||\n', jobs, config)).toEqual([]);
    expect(parseGpuLimits('lab|lab||gres/gpu=2|||normal\n', '', jobs, parseStandingConfig(LAB.split(SECTION)[CONFIG]!))).toEqual([]);
  });

  it('through the whole command output', () => {
    const standing = parseGpuInventory(withSections({ [CONFIG]: ENFORCING, [SSHARE]: 'lab|mlops|0.823529\n', [QOS]: 'normal|gres/gpu=8|||\n', [JOBS]: OWN_JOBS })).standing;
    expect(standing).toEqual(parseUserStanding({ config: ENFORCING, sshare: 'lab|mlops|0.823529\n', assoc: 'lab|lab|||||normal\n', qos: 'normal|gres/gpu=8|||\n', jobs: OWN_JOBS }));
    expect(standing).toEqual({
      fairShare: [{ account: 'lab', factor: 0.823529 }],
      gpus: { running: 0, pending: 3 },
      gpuLimits: [{ source: 'qos', name: 'normal', scope: 'perUser', gpus: 8, running: 0, pending: 3 }],
    });
  });
});
