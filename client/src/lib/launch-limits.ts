// What the launch form says about a partition before the user launches: what an empty memory or time limit gets
// (the partition's or the site's default), the most it allows, and SLURM's own verdict on the previewed script.
import type { PartitionLimits, Preflight } from '../api/launch';

/** Minutes as SLURM writes a time limit: D-HH:MM:SS, or HH:MM:SS under a day. */
export function slurmDuration(minutes: number): string {
  const total = Math.round(minutes * 60);
  const days = Math.floor(total / 86_400);
  const pad = (value: number) => String(value).padStart(2, '0');
  const clock = `${pad(Math.floor((total % 86_400) / 3600))}:${pad(Math.floor((total % 3600) / 60))}:${pad(total % 60)}`;
  return days > 0 ? `${days}-${clock}` : clock;
}

/** Megabytes as SLURM writes them: 4000M, or in G/T when whole. */
export function slurmMemory(megabytes: number): string {
  if (megabytes >= 1024 * 1024 && megabytes % (1024 * 1024) === 0) return `${megabytes / (1024 * 1024)}T`;
  if (megabytes >= 1024 && megabytes % 1024 === 0) return `${megabytes / 1024}G`;
  return `${megabytes}M`;
}

/** The partition a launch goes to: the one chosen, or the cluster's default. */
export const partitionLimitsOf = (limits: readonly PartitionLimits[] | null | undefined, chosen: string): PartitionLimits | null =>
  limits?.find((entry) => (chosen ? entry.name === chosen : entry.isDefault)) ?? null;

/** The memory field's hint: what empty gives, and the most one node has. */
export function memoryHint(limits: PartitionLimits | null, cpusPerTask: number): string {
  if (!limits) return 'e.g. 500M, 16G, 1T';
  const cpus = Number.isInteger(cpusPerTask) && cpusPerTask > 0 ? cpusPerTask : 1;
  const empty =
    limits.defaultMemoryPerNodeMb !== null
      ? `${slurmMemory(limits.defaultMemoryPerNodeMb)} per node`
      : limits.defaultMemoryPerCpuMb !== null
        ? `${slurmMemory(limits.defaultMemoryPerCpuMb)} per CPU${cpus > 1 ? ` = ${slurmMemory(limits.defaultMemoryPerCpuMb * cpus)}` : ''}`
        : 'the whole node';
  const most = limits.maxMemoryPerNodeMb !== null ? ` · at most ${slurmMemory(limits.maxMemoryPerNodeMb)}` : '';
  return `Empty: ${empty} (${limits.name}'s default)${most}`;
}

/** The time limit field's hint: what empty gives, and the partition's MaxTime. */
export function timeHint(limits: PartitionLimits | null): string {
  if (!limits) return 'MM, HH:MM:SS or D-HH:MM:SS';
  const most = limits.maxTimeMinutes !== null ? slurmDuration(limits.maxTimeMinutes) : null;
  const empty = limits.defaultTimeMinutes !== null ? `${slurmDuration(limits.defaultTimeMinutes)} (${limits.name}'s default)` : most ? `${most} (${limits.name}'s limit)` : 'no limit';
  return `Empty: ${empty}${most ? ` · at most ${most}` : ''}`;
}

/** "≈ 17:42", "≈ Tue 09:15", or "now" for an estimate within a minute. */
export function startText(at: Date, now: number): string {
  if (at.getTime() - now < 60_000) return 'now';
  const time = at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const sameDay = new Date(now).toDateString() === at.toDateString();
  return `≈ ${sameDay ? '' : `${at.toLocaleDateString([], { weekday: 'short' })} `}${time}`;
}

/** SLURM's verdict in a line, and whether it is a refusal (shown as an error) or not. */
export function preflightLine(preflight: Preflight | null | undefined, now: number): { text: string; refused: boolean } | null {
  if (!preflight) return null;
  switch (preflight.outcome) {
    case 'ACCEPTED': {
      const start = preflight.estimatedStartAt ? `would start ${startText(new Date(preflight.estimatedStartAt), now)}` : 'no start estimate';
      return { text: `SLURM accepts this · ${start}${preflight.nodes ? ` on ${preflight.nodes}` : ''}`, refused: false };
    }
    case 'REFUSED':
      return { text: `SLURM refuses this: ${preflight.message}`, refused: true };
    default:
      return { text: preflight.message, refused: false };
  }
}
