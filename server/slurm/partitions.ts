// Each partition's limits as `scontrol show partition -o` prints them, and the site's memory defaults and caps as
// `scontrol show config` prints them: read by the cluster check's one command (./gpu.ts) beside the node table, so a
// launch can be checked against what SLURM would refuse, and the form can say what a value left out will be.
import { scontrolFields } from './parse.js';
import { slurmMinutes } from './values.js';

export interface PartitionLimits {
  name: string;
  isDefault: boolean;
  /** State=UP: a partition DOWN, DRAIN or INACTIVE takes no new jobs (or runs none). */
  up: boolean;
  /** Minutes; null is unlimited. */
  maxTimeMinutes: number | null;
  /** Minutes a job that gives no time limit gets; null: none set (the partition's MaxTime applies). */
  defaultTimeMinutes: number | null;
  maxNodes: number | null;
  maxCpusPerNode: number | null;
  /** Megabytes; null when the partition sets none (the site's value applies). */
  maxMemPerNodeMb: number | null;
  maxMemPerCpuMb: number | null;
  defMemPerNodeMb: number | null;
  defMemPerCpuMb: number | null;
  /** Null: every account (ALL). */
  allowAccounts: string[] | null;
  allowQos: string[] | null;
  denyAccounts: string[];
  denyQos: string[];
}

/** The site's memory defaults and caps (slurm.conf), which a partition's own values override. Megabytes; null unset. */
export interface SiteMemoryLimits {
  defMemPerCpuMb: number | null;
  defMemPerNodeMb: number | null;
  maxMemPerCpuMb: number | null;
  maxMemPerNodeMb: number | null;
}

const UNLIMITED = /^(UNLIMITED|INFINITE|NONE|N\/A|\(null\))$/i;

/** A count or megabytes as scontrol prints them; UNLIMITED, NONE and 0 (SLURM's "not set" for memory) are null. */
function limit(text: string | undefined): number | null {
  if (text === undefined || UNLIMITED.test(text)) return null;
  const match = /^(\d+)(M)?$/.exec(text);
  if (!match) return null;
  const value = Number(match[1]);
  return Number.isSafeInteger(value) && value > 0 ? value : null;
}

function minutes(text: string | undefined): number | null {
  if (text === undefined || UNLIMITED.test(text)) return null;
  return slurmMinutes(text);
}

const list = (text: string | undefined): string[] | null => (text === undefined || /^ALL$/i.test(text) ? null : text.split(',').filter(Boolean));

export function parsePartitions(output: string): PartitionLimits[] {
  const partitions: PartitionLimits[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('PartitionName=')) continue;
    const fields = scontrolFields(line);
    partitions.push({
      name: fields.get('PartitionName')!,
      isDefault: fields.get('Default') === 'YES',
      up: (fields.get('State') ?? 'UP').toUpperCase() === 'UP',
      maxTimeMinutes: minutes(fields.get('MaxTime')),
      defaultTimeMinutes: minutes(fields.get('DefaultTime')),
      maxNodes: limit(fields.get('MaxNodes')),
      maxCpusPerNode: limit(fields.get('MaxCPUsPerNode')),
      maxMemPerNodeMb: limit(fields.get('MaxMemPerNode')),
      maxMemPerCpuMb: limit(fields.get('MaxMemPerCPU')),
      defMemPerNodeMb: limit(fields.get('DefMemPerNode')),
      defMemPerCpuMb: limit(fields.get('DefMemPerCPU')),
      allowAccounts: list(fields.get('AllowAccounts')),
      allowQos: list(fields.get('AllowQos')),
      denyAccounts: list(fields.get('DenyAccounts')) ?? [],
      denyQos: list(fields.get('DenyQos')) ?? [],
    });
  }
  return partitions;
}

/** The `Name = value` lines of `scontrol show config` the script keeps (DefMemPer…, MaxMemPer…). */
export function parseSiteMemoryLimits(output: string): SiteMemoryLimits {
  const values = new Map<string, string>();
  for (const line of output.split('\n')) {
    const match = /^(\w+)\s*=\s*(\S+)/.exec(line);
    if (match) values.set(match[1]!, match[2]!);
  }
  return {
    defMemPerCpuMb: limit(values.get('DefMemPerCPU')),
    defMemPerNodeMb: limit(values.get('DefMemPerNode')),
    maxMemPerCpuMb: limit(values.get('MaxMemPerCPU')),
    maxMemPerNodeMb: limit(values.get('MaxMemPerNode')),
  };
}
