// Where the user stands on a cluster: their fair-share factor (sshare), their GPU limits from their association and
// QOS (sacctmgr), and the GPUs their own jobs hold or wait for (squeue -u). Read by the cluster check's one command
// (./gpu.ts), each section tolerated to fail: a site may forbid sshare or sacctmgr, and then there is nothing to say
// about it (an empty section), never an error. The parsers are pure.
import { parseTresGpus, pendingTaskCount, UNTYPED_GPU } from './gpu.js';

export interface FairShare {
  account: string;
  /** sshare's FairShare factor, 0 to 1 (1: well under the share, first in line). */
  factor: number;
}

export type GpuLimitSource = 'association' | 'qos';
/** perUser: all the user's jobs together (QOS MaxTRESPerUser, or the user's own association's GrpTRES/MaxTRESPerUser); perJob: MaxTRES. */
export type GpuLimitScope = 'perUser' | 'perJob';

export interface GpuLimit {
  source: GpuLimitSource;
  /** The QOS's name, or the association's account (with its partition where the association names one). */
  name: string;
  scope: GpuLimitScope;
  gpus: number;
  /** The user's GPUs that count against it: running, and pending (what they would take when they start). */
  running: number;
  pending: number;
}

export interface UserGpus {
  running: number;
  pending: number;
}

export interface UserStanding {
  /** Empty when sshare is not allowed, or the site's scheduler has no fair share (PriorityType=priority/basic prints 0 for all). */
  fairShare: FairShare[];
  gpus: UserGpus;
  /** Empty when sacctmgr is not allowed, none is set, or the site does not enforce limits (AccountingStorageEnforce). */
  gpuLimits: GpuLimit[];
}

export const EMPTY_STANDING: UserStanding = { fairShare: [], gpus: { running: 0, pending: 0 }, gpuLimits: [] };

/** The config lines the standing needs, from the same `scontrol show config` section as the site's memory lines. */
export interface StandingConfig {
  clusterName: string | null;
  /** Null when the config section was not readable: nothing is known, so nothing is hidden. */
  priorityType: string | null;
  accountingStorageEnforce: string | null;
}

export function parseStandingConfig(output: string): StandingConfig {
  const values = new Map<string, string>();
  for (const line of output.split('\n')) {
    const match = /^(\w+)\s*=\s*(.*?)\s*$/.exec(line);
    if (match) values.set(match[1]!, match[2]!);
  }
  return {
    clusterName: values.get('ClusterName') ?? null,
    priorityType: values.get('PriorityType') ?? null,
    accountingStorageEnforce: values.get('AccountingStorageEnforce') ?? null,
  };
}

/** `sshare -U -u <user> -P -n -o Account,User,FairShare`: one line per account of the user. */
export function parseFairShare(output: string, config: StandingConfig): FairShare[] {
  // priority/basic orders by submission alone; sshare still prints a FairShare of 0, which would read as "last in line".
  if (config.priorityType !== null && !/multifactor/i.test(config.priorityType)) return [];
  const shares: FairShare[] = [];
  for (const line of output.split('\n')) {
    const [account, user, factor] = line.split('|').map((field) => field.trim());
    // Account rows (no user) come back when -U is ignored by an older sshare; only the user's own rows count.
    if (!account || !user || factor === undefined || !/^\d+(\.\d+)?$/.test(factor)) continue;
    const value = Number(factor);
    if (value >= 0 && value <= 1) shares.push({ account, factor: value });
  }
  return shares;
}

/** The total GPUs of a TRES list (`gres/gpu=2,gres/gpu:a100=2`): the untyped entry, else the typed ones summed. */
function totalGpus(tres: string): number | null {
  const byType = parseTresGpus(tres);
  if (byType.size === 0) return null;
  return byType.get(UNTYPED_GPU) ?? [...byType.values()].reduce((sum, count) => sum + count, 0);
}

/** A GPU limit (`gres/gpu=8`) in a TRES list; typed-only limits (`gres/gpu:a100=4`) are not the user's total and are left out. */
function gpuLimit(tres: string | undefined): number | null {
  if (!tres) return null;
  const gpus = parseTresGpus(tres).get(UNTYPED_GPU);
  return gpus === undefined ? null : gpus;
}

interface OwnJob {
  running: boolean;
  account: string;
  qos: string;
  partitions: string[];
  gpus: number;
}

/** GraphQL's Int: counts multiply what the user typed (GPUs × array tasks) and saturate rather than fail the answer. */
const MAX_COUNT = 2 ** 31 - 1;
const add = (a: number, b: number) => Math.min(MAX_COUNT, a + b);

/**
 * `squeue -h -u <user> -t R,PD -O 'JobArrayID:|,StateCompact:|,Account:|,QOS:|,Partition:|,tres-alloc:|'`:
 * tres-alloc is what a running job holds and what a pending one asks (SLURM prints the request until it starts). A
 * pending array is one line whose tasks each ask the same, not expanded with -r (a user's 10,000-task array stays one
 * line per check); JobArrayID names its tasks (`95_[0-2,4-15%4]`) where JobID would print only 95. Running tasks
 * are lines of their own.
 */
export function parseOwnJobs(output: string): OwnJob[] {
  const jobs: OwnJob[] = [];
  for (const line of output.split('\n')) {
    const [jobId, state, account, qos, partition, tres] = line.split('|').map((field) => field.trim());
    if (!jobId || (state !== 'R' && state !== 'PD') || tres === undefined) continue;
    const perTask = totalGpus(tres);
    if (perTask === null || perTask === 0) continue;
    const running = state === 'R';
    const gpus = running ? perTask : Math.min(MAX_COUNT, perTask * pendingTaskCount(jobId));
    jobs.push({ running, account: account ?? '', qos: qos ?? '', partitions: (partition ?? '').split(',').filter(Boolean), gpus });
  }
  return jobs;
}

function count(jobs: OwnJob[]): UserGpus {
  let running = 0;
  let pending = 0;
  for (const job of jobs) {
    if (job.running) running = add(running, job.gpus);
    else pending = add(pending, job.gpus);
  }
  return { running, pending };
}

/**
 * GPU limits of the user's associations on this cluster (`sacctmgr -P -n show assoc user=<user>
 * format=Cluster,Account,Partition,GrpTRES,MaxTRES,MaxTRESPerUser,QOS`) and of the QOS they may use (`sacctmgr -P -n
 * show qos format=Name,MaxTRESPerUser,GrpTRES,MaxJobsPerUser,MaxTRES`), each with the user's GPUs that count against it.
 * A QOS's GrpTRES is shared by everyone in it and is not the user's; it is left out.
 */
export function parseGpuLimits(assocOutput: string, qosOutput: string, jobs: OwnJob[], config: StandingConfig): GpuLimit[] {
  // Limits are only applied where AccountingStorageEnforce has limits (or safe, which implies it).
  if (config.accountingStorageEnforce !== null && !/\b(limits|safe)\b/i.test(config.accountingStorageEnforce)) return [];
  const limits: GpuLimit[] = [];
  const qosNames = new Set<string>();
  for (const line of assocOutput.split('\n')) {
    const [cluster, account, partition, grpTres, maxTres, maxTresPerUser, qos] = line.split('|').map((field) => field.trim());
    if (!account || qos === undefined) continue;
    // slurmdbd may keep several clusters: only this one's associations apply.
    if (config.clusterName !== null && cluster && cluster !== config.clusterName) continue;
    for (const name of qos.split(',')) if (name) qosNames.add(name);
    const mine = jobs.filter((job) => job.account === account && (!partition || job.partitions.includes(partition)));
    const name = partition ? `${account} on ${partition}` : account;
    const perUser = [gpuLimit(grpTres), gpuLimit(maxTresPerUser)].filter((gpus): gpus is number => gpus !== null);
    if (perUser.length > 0) limits.push({ source: 'association', name, scope: 'perUser', gpus: Math.min(...perUser), ...count(mine) });
    const perJob = gpuLimit(maxTres);
    if (perJob !== null) limits.push({ source: 'association', name, scope: 'perJob', gpus: perJob, running: 0, pending: 0 });
  }
  for (const line of qosOutput.split('\n')) {
    const [name, maxTresPerUser, , , maxTres] = line.split('|').map((field) => field.trim());
    // Only the QOS the user may use; with no association readable, every QOS listed is a candidate, which says too much.
    if (!name || !qosNames.has(name)) continue;
    const mine = jobs.filter((job) => job.qos === name);
    const perUser = gpuLimit(maxTresPerUser);
    if (perUser !== null) limits.push({ source: 'qos', name, scope: 'perUser', gpus: perUser, ...count(mine) });
    const perJob = gpuLimit(maxTres);
    if (perJob !== null) limits.push({ source: 'qos', name, scope: 'perJob', gpus: perJob, running: 0, pending: 0 });
  }
  return limits;
}

/** The standing from the four sections of the cluster check and its config lines. */
export function parseUserStanding(sections: { sshare: string; assoc: string; qos: string; jobs: string; config: string }): UserStanding {
  const config = parseStandingConfig(sections.config);
  const jobs = parseOwnJobs(sections.jobs);
  return {
    fairShare: parseFairShare(sections.sshare, config),
    gpus: count(jobs),
    gpuLimits: parseGpuLimits(sections.assoc, sections.qos, jobs, config),
  };
}
