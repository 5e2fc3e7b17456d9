// GPU availability of a cluster from one remote command: the node table (`scontrol show node -o -d`) and the pending
// queue (`squeue -t PD`). The command is a constant and the parsers are pure; nothing is installed on the cluster.
// readGpuInventory runs it through a transport; the service (server/clusters/gpu.ts) caches what it read.
import { SlurmError } from '../errors.js';
import type { Transport } from '../ssh/transport.js';
import { scontrolFields } from './parse.js';
import { parsePartitions, parseSiteMemoryLimits, type PartitionLimits, type SiteMemoryLimits } from './partitions.js';
import { parseUserStanding, type UserStanding } from './standing.js';

/** Reported type of GPUs that SLURM knows without a type (`Gres=gpu:4`): SLURM itself calls them just "gpu". */
export const UNTYPED_GPU = 'gpu';
/** Type under which pending requests that name no type (`--gres=gpu:2`) are counted: any type will do for them. */
export const ANY_GPU_TYPE = 'any';

const SECTION = '--mission-control--';

// The partitions' limits and the site's memory defaults ride on the same command (./partitions.ts): what a launch is
// checked against, tolerated to fail (a site may hide its config).
// The user's standing rides on it too (./standing.ts): their fair share (sshare), their GPU limits (sacctmgr, which asks
// slurmdbd: under `timeout` where the host has it, so a slow or dead slurmdbd cannot hold the whole check) and their
// own jobs' GPUs (squeue -u), each tolerated to fail and then said nothing of. Where the config says the answer
// would mean nothing (priority/basic has no fair share; limits are not applied unless AccountingStorageEnforce has
// limits or safe) the program is not run at all; an unreadable config runs both.
// The user's jobs are read here rather than taken from our database: limits count every job of the user, also those
// launched without us, and one squeue of the user's own jobs in a command that runs anyway costs one short RPC per
// cache period, whoever asks.
// A login shell's .bashrc may export SQUEUE_* filters (one partition, one user, one account) that would hide
// other people's pending jobs from the demand count. Per-job GPU requests (`--gpus=2`) are not part of %b; the third
// section asks for them with -O, tolerated to fail on a SLURM too old to know that field.
const GPU_SCRIPT = `unset SQUEUE_ACCOUNT SQUEUE_LICENSES SQUEUE_NAMES SQUEUE_PARTITION SQUEUE_QOS SQUEUE_USERS
scontrol show node -o -d || exit $?
echo ${SECTION}
squeue -h -t PD -o '%i|%P|%b|%D' || exit $?
echo ${SECTION}
squeue -h -t PD -O 'JobID:|,tres-per-job:|' 2>/dev/null
echo ${SECTION}
scontrol show partition -o 2>/dev/null
echo ${SECTION}
config=$(scontrol show config 2>/dev/null | grep -E '^(DefMemPer|MaxMemPer|ClusterName|PriorityType|AccountingStorageEnforce)')
[ -n "$config" ] && echo "$config"
T=; command -v timeout >/dev/null 2>&1 && T='timeout 10'
echo ${SECTION}
case "$config" in *priority/basic*) ;; *) $T sshare -U -u "$(id -un)" -P -n -o Account,User,FairShare 2>/dev/null ;; esac
echo ${SECTION}
limits=1
case "$config" in *AccountingStorageEnforce*) case "$config" in *AccountingStorageEnforce*limits*|*AccountingStorageEnforce*safe*) ;; *) limits= ;; esac ;; esac
[ -n "$limits" ] && $T sacctmgr -P -n show assoc user="$(id -un)" format=Cluster,Account,Partition,GrpTRES,MaxTRES,MaxTRESPerUser,QOS 2>/dev/null
echo ${SECTION}
[ -n "$limits" ] && $T sacctmgr -P -n show qos format=Name,MaxTRESPerUser,GrpTRES,MaxJobsPerUser,MaxTRES 2>/dev/null
echo ${SECTION}
squeue -h -u "$(id -un)" -t R,PD -O 'JobArrayID:|,StateCompact:|,Account:|,QOS:|,Partition:|,tres-alloc:|' 2>/dev/null
exit 0`;

/** The one remote command that answers "which GPUs are free"; argv for Transport.exec. */
export function gpuAvailabilityCommand(): string[] {
  return ['sh', '-c', GPU_SCRIPT];
}

export interface NodeGpus {
  type: string;
  total: number;
  allocated: number;
}

export interface GpuNode {
  name: string;
  /** SLURM's state as scontrol prints it: IDLE, MIXED, IDLE+DRAIN, DOWN*, … */
  state: string;
  reason: string | null;
  partitions: string[];
  /** False when the node takes no new jobs (down, drained or draining, failing, not responding, …). */
  available: boolean;
  /** False when every CPU or all memory is allocated: its idle GPUs cannot go to a new job now. */
  hasRoomForJobs: boolean;
  gpus: NodeGpus[];
  /** CPUs and memory (MB) a job may get on it; null when scontrol did not say. */
  cpus: number | null;
  memoryMb: number | null;
}

export interface PendingGpuRequest {
  jobId: string;
  /** A job submitted to several partitions (`-p gpu,debug`) may start in any of them. */
  partitions: string[];
  /** A GPU type, or ANY_GPU_TYPE when the request names none. */
  type: string;
  /** GPUs for the whole job: per node × nodes × pending array tasks, plus per-job requests. */
  count: number;
}

export interface GpuInventory {
  nodes: GpuNode[];
  pending: PendingGpuRequest[];
  /** Empty when the site did not let scontrol show them: then no launch is checked against them. */
  partitions: PartitionLimits[];
  siteMemory: SiteMemoryLimits;
  /** The user's fair share, GPU limits and own GPUs; empty parts where the site did not let us read them. */
  standing: UserStanding;
}

export interface GpuCounts {
  /** GPUs on nodes that take jobs. */
  total: number;
  /** Idle GPUs a new job could get now. */
  free: number;
  allocated: number;
  /** Idle GPUs on nodes whose CPUs or memory are all taken: total = free + allocated + stranded. */
  stranded: number;
  /** GPUs asked for by pending jobs. */
  pendingDemand: number;
}

export interface GpuTypeAvailability extends GpuCounts {
  type: string;
}

export interface GpuPartitionAvailability extends GpuCounts {
  partition: string;
  type: string;
}

export interface NodeWithFreeGpus {
  node: string;
  type: string;
  free: number;
  partitions: string[];
}

export interface UnavailableGpuNode {
  node: string;
  state: string;
  reason: string | null;
  partitions: string[];
  /** GPUs the node would offer if it took jobs (after the allowedGpuTypes filter). */
  gpus: number;
}

export interface GpuSummary {
  byType: GpuTypeAvailability[];
  byPartition: GpuPartitionAvailability[];
  nodesWithFreeGpus: NodeWithFreeGpus[];
  unavailableNodes: UnavailableGpuNode[];
}

export class GpuOutputError extends Error {}

/** Splits the output of gpuAvailabilityCommand(); a missing section means the script did not run as written. */
export function parseGpuInventory(stdout: string): GpuInventory {
  const [nodeText, pendingText, perJobText, partitionText, configText, sshareText, assocText, qosText, ownJobsText] = stdout.split(`${SECTION}\n`);
  if (nodeText === undefined || pendingText === undefined) throw new GpuOutputError(`unexpected output: ${stdout.slice(0, 200) || '(empty)'}`);
  return {
    nodes: parseScontrolNodes(nodeText),
    pending: parsePendingGpuDemand(pendingText, perJobText ?? ''),
    partitions: parsePartitions(partitionText ?? ''),
    siteMemory: parseSiteMemoryLimits(configText ?? ''),
    standing: parseUserStanding({ sshare: sshareText ?? '', assoc: assocText ?? '', qos: qosText ?? '', jobs: ownJobsText ?? '', config: configText ?? '' }),
  };
}

/** What the service names the command by in its errors. */
const GPU_COMMAND_NAME = 'scontrol show node / squeue';

/** The cluster's GPU nodes and pending GPU demand; a SLURM failure or output not of the script is a SlurmError. */
export async function readGpuInventory(transport: Transport): Promise<GpuInventory> {
  const result = await transport.exec(gpuAvailabilityCommand(), { kind: 'gpu-inventory' });
  if (result.exitCode !== 0) throw new SlurmError(GPU_COMMAND_NAME, result.exitCode, result.stderr || result.stdout);
  try {
    return parseGpuInventory(result.stdout);
  } catch (error) {
    if (error instanceof GpuOutputError) throw new SlurmError(GPU_COMMAND_NAME, 0, error.message);
    throw error;
  }
}

/** Parses and summarizes in one step. */
export function parseGpuAvailability(stdout: string, options: GpuSummaryOptions = {}): GpuSummary {
  return summarizeGpuAvailability(parseGpuInventory(stdout), options);
}

// ---------------------------------------------------------------------------------------------------------------
// scontrol show node -o [-d]

/** A count as SLURM prints it. Digits too many to be held exactly are garbled output, not a count: null. */
function wholeCount(text: string | undefined): number | null {
  if (text === undefined || !/^\d+$/.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

/**
 * GraphQL's Int. Pending demand multiplies counts that other users of the cluster choose (GPUs × nodes × array
 * tasks); it saturates here rather than fail the whole availability answer for everyone.
 */
const MAX_DEMAND = 2 ** 31 - 1;
const addDemand = (a: number, b: number) => Math.min(MAX_DEMAND, a + b);


// Each `+`-joined part of a state, its trailing marker removed (`*` not responding, `~` powered off, `#` powering
// up, `$` maintenance, `@` reboot pending, `^` rebooting, `!` power down pending, `%` powering down, `-` planned).
const UNAVAILABLE_STATE_PARTS = new Set(['DOWN', 'DRAIN', 'DRAINED', 'DRAINING', 'FAIL', 'FAILING', 'NOT_RESPONDING', 'NO_RESPOND', 'INVAL', 'FUTURE', 'UNKNOWN', 'MAINT']);

/** Whether a node in this state takes new jobs. Not responding (`*`) counts as unavailable whatever the base state. */
export function nodeTakesJobs(state: string): boolean {
  const parts = state.toUpperCase().split('+');
  if (parts.some((part) => part.endsWith('*'))) return false;
  return !parts.some((part) => UNAVAILABLE_STATE_PARTS.has(part.replace(/[*~#$@^!%-]+$/, '')));
}

/** Splits at commas outside parentheses: `gpu:a100:2(IDX:0,2),gpu:v100:1(IDX:3)`. */
function splitTopLevel(text: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '(') depth++;
    else if (char === ')') depth = Math.max(0, depth - 1);
    else if (char === ',' && depth === 0) {
      items.push(text.slice(start, i));
      start = i + 1;
    }
  }
  items.push(text.slice(start));
  return items.map((item) => item.trim()).filter(Boolean);
}

/**
 * GPU counts by type from a node's `Gres=` or `GresUsed=`: `gpu:a100:4(S:0-1)`, `gpu:4`, `gpu:a100:2(IDX:0-1)`,
 * several types comma-separated, other GRES (mps, shard) ignored, `(null)` for none.
 */
export function parseNodeGres(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of splitTopLevel(text)) {
    const parts = item.replace(/\(.*\)$/, '').split(':');
    if (parts[0] !== 'gpu') continue;
    const hasCount = parts.length > 1 && /^\d+$/.test(parts[parts.length - 1]!);
    // `gpu` and `gpu:4` are untyped; `gpu:a100:4`, `gpu:a100` and `gpu:a100:no_consume:4` name the type second.
    const type = parts.length >= (hasCount ? 3 : 2) ? parts[1]! : UNTYPED_GPU;
    const count = hasCount ? wholeCount(parts[parts.length - 1]) : 1;
    if (count === null) continue;
    counts.set(type, (counts.get(type) ?? 0) + count);
  }
  return counts;
}

/** GPU counts by type from `AllocTRES=cpu=2,mem=200M,gres/gpu=2,gres/gpu:a100=2` (typed entries only with accounting of typed TRES). */
export function parseTresGpus(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of text.split(',')) {
    const match = /^gres\/gpu(?::([^=]+))?=(\d+)$/.exec(item.trim());
    if (!match) continue;
    const type = match[1] ?? UNTYPED_GPU;
    const gpus = wholeCount(match[2]);
    if (gpus !== null) counts.set(type, (counts.get(type) ?? 0) + gpus);
  }
  return counts;
}

/**
 * Allocated GPUs per configured type. A typed figure is taken as is; an untyped one (`gres/gpu=2` when accounting
 * tracks only gres/gpu) is the sum over types, so it is only used when no typed figure exists, filling types in
 * their configured order: on a node with one type, which is the common case, that is exact.
 */
function allocatedByType(totals: Map<string, number>, used: Map<string, number>): Map<string, number> {
  const allocated = new Map<string, number>();
  const typedUse = [...used].filter(([type]) => type !== UNTYPED_GPU);
  if (totals.size === 1 && totals.has(UNTYPED_GPU)) {
    allocated.set(UNTYPED_GPU, used.get(UNTYPED_GPU) ?? typedUse.reduce((sum, [, count]) => sum + count, 0));
    return allocated;
  }
  for (const type of totals.keys()) allocated.set(type, used.get(type) ?? 0);
  if (typedUse.length === 0) {
    let untyped = used.get(UNTYPED_GPU) ?? 0;
    for (const [type, total] of totals) {
      const share = Math.min(untyped, total - (allocated.get(type) ?? 0));
      allocated.set(type, (allocated.get(type) ?? 0) + share);
      untyped -= share;
    }
  }
  return allocated;
}

const count = wholeCount;

/** `scontrol show node -o [-d]`: one node per line. GresUsed (with -d) is preferred to AllocTRES, which lists GPUs only with accounting. */
export function parseScontrolNodes(output: string): GpuNode[] {
  const nodes: GpuNode[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('NodeName=')) continue;
    const fields = scontrolFields(line);
    const name = fields.get('NodeName')!;
    const state = fields.get('State') ?? 'UNKNOWN';
    const totals = parseNodeGres(fields.get('Gres') ?? '');
    const gresUsed = fields.get('GresUsed');
    const used = gresUsed !== undefined ? parseNodeGres(gresUsed) : parseTresGpus(fields.get('AllocTRES') ?? '');
    const allocated = allocatedByType(totals, used);

    const cpus = count(fields.get('CPUEfctv')) ?? count(fields.get('CPUTot'));
    const cpusAllocated = count(fields.get('CPUAlloc'));
    const memory = count(fields.get('RealMemory'));
    const memoryAllocated = count(fields.get('AllocMem'));
    const cpusFull = cpus !== null && cpusAllocated !== null ? cpusAllocated >= cpus : state.toUpperCase().startsWith('ALLOC');
    const memoryFull = memory !== null && memoryAllocated !== null && memory > 0 && memoryAllocated >= memory;

    const partitions = fields.get('Partitions');
    const reason = fields.get('Reason');
    nodes.push({
      name,
      state,
      reason: reason || null,
      partitions: partitions ? partitions.split(',').filter(Boolean) : [],
      available: nodeTakesJobs(state),
      hasRoomForJobs: !cpusFull && !memoryFull,
      gpus: [...totals].map(([type, total]) => ({ type, total, allocated: Math.min(total, allocated.get(type) ?? 0) })),
      cpus,
      memoryMb: memory,
    });
  }
  return nodes;
}

// ---------------------------------------------------------------------------------------------------------------
// squeue -t PD

/**
 * GPU requests in a TRES-per-node or per-job value: `gres:gpu:a100:4` (22.05), `gres/gpu:a100=4` (newer),
 * `gres:gpu:2`, `gpu:a100:4`, several comma-separated, `N/A` for none.
 */
export function parseGpuRequest(text: string): Array<{ type: string; count: number }> {
  const requests: Array<{ type: string; count: number }> = [];
  for (const item of text.split(',')) {
    const spec = item.trim().replace(/^gres[:/]/, '');
    const match = /^gpu(?::([^:=]+))?(?:[:=](\d+))?$/.exec(spec);
    if (!match) continue;
    // `gres:gpu:4`: the single field is the count; `gres:gpu:a100`: a type with the default count of one.
    const [, first, second] = match;
    if (first !== undefined && second === undefined && /^\d+$/.test(first)) requests.push({ type: ANY_GPU_TYPE, count: wholeCount(first) ?? 0 });
    else requests.push({ type: first ?? ANY_GPU_TYPE, count: second === undefined ? 1 : (wholeCount(second) ?? 0) });
  }
  return requests.filter((request) => request.count > 0);
}

/** Pending array tasks in a squeue job id: `95_[0-3,7%2]` is 5, `95_[0-15:4]` is 4, `95_3` or `95` is 1. */
export function pendingTaskCount(jobId: string): number {
  const range = /_\[([^\]]+)\]$/.exec(jobId)?.[1];
  if (!range) return 1;
  let tasks = 0;
  for (const part of range.replace(/%\d+$/, '').split(',')) {
    const match = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part.trim());
    if (!match) continue;
    const first = wholeCount(match[1]);
    const last = match[2] === undefined ? first : wholeCount(match[2]);
    const step = match[3] === undefined ? 1 : wholeCount(match[3]);
    if (first === null || last === null || step === null) continue;
    tasks = addDemand(tasks, last >= first ? Math.floor((last - first) / Math.max(1, step)) + 1 : 0);
  }
  return Math.max(1, tasks);
}

const baseJobId = (jobId: string) => jobId.split('_')[0]!;

/**
 * Pending GPU demand from `squeue -h -t PD -o '%i|%P|%b|%D'` (per-node requests: `%b` × `%D` nodes × array tasks)
 * and `squeue -h -t PD -O 'JobID:|,tres-per-job:|'` (per-job requests, e.g. `--gpus=2`), joined on the job id.
 */
export function parsePendingGpuDemand(perNodeOutput: string, perJobOutput = ''): PendingGpuRequest[] {
  const perJob = new Map<string, Array<{ type: string; count: number }>>();
  for (const line of perJobOutput.split('\n')) {
    const [jobId, tres] = line.trim().split('|');
    if (!jobId || !tres) continue;
    const requests = parseGpuRequest(tres);
    if (requests.length > 0) perJob.set(baseJobId(jobId), requests);
  }

  const demand: PendingGpuRequest[] = [];
  for (const line of perNodeOutput.split('\n')) {
    const [jobId, partitionList, tresPerNode, nodeCount] = line.trim().split('|');
    if (!jobId || partitionList === undefined || tresPerNode === undefined) continue;
    const partitions = partitionList.split(',').filter(Boolean);
    const tasks = pendingTaskCount(jobId);
    // A pending job may ask for a range of nodes (`-N 2-4`, shown as "2-4"): it needs at least the minimum.
    const nodes = Math.max(1, wholeCount(/^\d+/.exec(nodeCount ?? '')?.[0]) ?? 1);
    const byType = new Map<string, number>();
    for (const request of parseGpuRequest(tresPerNode)) byType.set(request.type, addDemand(byType.get(request.type) ?? 0, Math.min(MAX_DEMAND, request.count * nodes * tasks)));
    for (const request of perJob.get(baseJobId(jobId)) ?? []) byType.set(request.type, addDemand(byType.get(request.type) ?? 0, Math.min(MAX_DEMAND, request.count * tasks)));
    for (const [type, gpus] of byType) demand.push({ jobId, partitions, type, count: gpus });
  }
  return demand;
}

// ---------------------------------------------------------------------------------------------------------------
// summary

export interface GpuSummaryOptions {
  /**
   * The cluster's allowedGpuTypes: only these typed GPUs and requests are counted. Untyped GPUs (UNTYPED_GPU) and
   * untyped requests (ANY_GPU_TYPE) are always kept: SLURM cannot say which type they are, so no filter applies.
   */
  allowedGpuTypes?: readonly string[];
}

const emptyCounts = (): GpuCounts => ({ total: 0, free: 0, allocated: 0, stranded: 0, pendingDemand: 0 });

function compareTypes(a: string, b: string): number {
  // Demand that takes any type reads best after the real types.
  if (a === ANY_GPU_TYPE || b === ANY_GPU_TYPE) return Number(a === ANY_GPU_TYPE) - Number(b === ANY_GPU_TYPE);
  return a.localeCompare(b);
}

export function summarizeGpuAvailability(inventory: Pick<GpuInventory, 'nodes' | 'pending'>, options: GpuSummaryOptions = {}): GpuSummary {
  const allowed = options.allowedGpuTypes ? new Set(options.allowedGpuTypes.map((type) => type.toLowerCase())) : null;
  const counted = (type: string) => !allowed || type === UNTYPED_GPU || type === ANY_GPU_TYPE || allowed.has(type.toLowerCase());

  const byType = new Map<string, GpuCounts>();
  const byPartition = new Map<string, GpuPartitionAvailability>();
  const typeCounts = (type: string) => byType.get(type) ?? byType.set(type, emptyCounts()).get(type)!;
  const partitionCounts = (partition: string, type: string) => {
    const key = `${partition}\u0000${type}`;
    return byPartition.get(key) ?? byPartition.set(key, { partition, type, ...emptyCounts() }).get(key)!;
  };
  const nodesWithFreeGpus: NodeWithFreeGpus[] = [];
  const unavailableNodes: UnavailableGpuNode[] = [];

  for (const node of inventory.nodes) {
    const gpus = node.gpus.filter((gpu) => gpu.total > 0 && counted(gpu.type));
    if (gpus.length === 0) continue;
    if (!node.available) {
      // Listed so the type and partition still show up (with nothing to offer) and the reason can be read.
      for (const gpu of gpus) {
        typeCounts(gpu.type);
        for (const partition of node.partitions) partitionCounts(partition, gpu.type);
      }
      unavailableNodes.push({ node: node.name, state: node.state, reason: node.reason, partitions: node.partitions, gpus: gpus.reduce((sum, gpu) => sum + gpu.total, 0) });
      continue;
    }
    for (const gpu of gpus) {
      const idle = Math.max(0, gpu.total - gpu.allocated);
      const free = node.hasRoomForJobs ? idle : 0;
      const add = (counts: GpuCounts) => {
        counts.total += gpu.total;
        counts.allocated += gpu.allocated;
        counts.free += free;
        counts.stranded += idle - free;
      };
      add(typeCounts(gpu.type));
      for (const partition of node.partitions) add(partitionCounts(partition, gpu.type));
      if (free > 0) nodesWithFreeGpus.push({ node: node.name, type: gpu.type, free, partitions: node.partitions });
    }
  }

  for (const request of inventory.pending) {
    if (!counted(request.type)) continue;
    // Counted once per type even when the job names several partitions; each of them sees it as demand.
    const byTypeCounts = typeCounts(request.type);
    byTypeCounts.pendingDemand = addDemand(byTypeCounts.pendingDemand, request.count);
    for (const partition of request.partitions) {
      const counts = partitionCounts(partition, request.type);
      counts.pendingDemand = addDemand(counts.pendingDemand, request.count);
    }
  }

  return {
    byType: [...byType].map(([type, counts]) => ({ type, ...counts })).sort((a, b) => compareTypes(a.type, b.type)),
    byPartition: [...byPartition.values()].sort((a, b) => a.partition.localeCompare(b.partition) || compareTypes(a.type, b.type)),
    nodesWithFreeGpus: nodesWithFreeGpus.sort((a, b) => b.free - a.free || a.node.localeCompare(b.node) || a.type.localeCompare(b.type)),
    unavailableNodes: unavailableNodes.sort((a, b) => a.node.localeCompare(b.node)),
  };
}
