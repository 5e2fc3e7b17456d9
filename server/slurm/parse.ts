// Pure parsers: SLURM command output in, typed values out. No I/O, so they are tested on recorded outputs.

/** A partition as `sinfo` describes it, kept with each cluster check. */
export interface PartitionInfo {
  name: string;
  isDefault: boolean;
  available: boolean;
  nodes: number;
  /** Node states with their counts, e.g. idle: 2, mix: 1. */
  states: Array<{ state: string; nodes: number }>;
}

/** `sinfo --version` prints e.g. "slurm 22.05.8" (some builds say "slurm-wlm 22.05.8"). */
export function parseSlurmVersion(output: string): string | null {
  return /^slurm\S*\s+(\d[\w.-]*)/m.exec(output.trim())?.[1] ?? null;
}

/** `sinfo -h -o '%P|%a|%D|%t'`: one line per (partition, node state); the default partition carries a `*`. */
export function parseSinfoPartitions(output: string): PartitionInfo[] {
  const partitions = new Map<string, PartitionInfo>();
  for (const line of output.split('\n')) {
    const [rawName, availability, count, state] = line.trim().split('|');
    if (!rawName || availability === undefined || count === undefined || state === undefined) continue;
    // A count too long to be held exactly is a garbled line, not a partition.
    const nodes = /^\d+$/.test(count) ? Number(count) : Number.NaN;
    if (!Number.isSafeInteger(nodes)) continue;
    const name = rawName.replace(/\*$/, '');
    const partition = partitions.get(name) ?? { name, isDefault: rawName.endsWith('*'), available: availability === 'up', nodes: 0, states: [] };
    partition.nodes += nodes;
    partition.states.push({ state, nodes });
    partitions.set(name, partition);
  }
  return [...partitions.values()];
}

/** One array job's task indexes as SLURM folds them: `5-10`, `1,3,5-7`, `0-999:2`. */
export interface ArrayTaskRanges {
  arrayJobId: string;
  ranges: Array<{ first: number; last: number; step: number }>;
  /** The `%N` SLURM prints after the indexes: at most N tasks of the array run at once. */
  throttle: number | null;
}

const ARRAY_TASK = /^(\d+)_(\d+)$/;
const FOLDED_TASKS = /^(\d+)_\[([^\]]*)\]$/;

/** "123_4" → { arrayJobId: "123", index: 4 }; anything else (a plain job, a folded range) → null. */
export function parseArrayTaskId(slurmJobId: string): { arrayJobId: string; index: number } | null {
  const match = ARRAY_TASK.exec(slurmJobId);
  if (!match) return null;
  const index = Number(match[2]);
  return Number.isSafeInteger(index) ? { arrayJobId: match[1]!, index } : null;
}

/**
 * The tasks an id like squeue's and sacct's `123_[5-10%2]` or `123_[1,3,5-7]` stands for: an array's tasks that
 * never started share one record. Kept as ranges, never unfolded into a list: a garbled `1_[0-99999999999]` must
 * not cost memory. A piece that is not a range stands for no task; an expression SLURM cut at SLURM_BITSTR_LEN
 * (`2090_[1-2,4-5,1`, mid-number and without its "]") is not read as one.
 */
export function parseFoldedArrayTasks(slurmJobId: string): ArrayTaskRanges | null {
  const match = FOLDED_TASKS.exec(slurmJobId);
  if (!match) return null;
  const [indexes = '', throttleText] = match[2]!.split('%');
  const throttle = throttleText !== undefined && /^\d+$/.test(throttleText) ? Number(throttleText) : null;
  const ranges: ArrayTaskRanges['ranges'] = [];
  for (const piece of indexes.split(',')) {
    const range = /^(\d+)(?:-(\d+))?(?::(\d+))?$/.exec(piece.trim());
    if (!range) continue;
    const first = Number(range[1]);
    const last = range[2] === undefined ? first : Number(range[2]);
    const step = range[3] === undefined ? 1 : Number(range[3]);
    if ([first, last, step].every(Number.isSafeInteger) && step > 0 && last >= first) ranges.push({ first, last, step });
  }
  return { arrayJobId: match[1]!, ranges, throttle };
}

/** Whether a folded record stands for task `index`. */
export function includesArrayTask(tasks: ArrayTaskRanges, index: number): boolean {
  return tasks.ranges.some(({ first, last, step }) => index >= first && index <= last && (index - first) % step === 0);
}

const FIELD_START = /(?:^|\s)([A-Za-z][A-Za-z0-9_]*)=/g;

/**
 * The key=value fields of one `scontrol show node -o` (or `show partition -o`) line. Values may hold spaces (`OS=Linux 6.1 #1 SMP …`), so a
 * value runs up to the next ` Key=`; Reason is printed last and may hold anything, so it takes the rest of the line.
 */
export function scontrolFields(line: string): Map<string, string> {
  const reasonAt = line.search(/(?:^|\s)Reason=/);
  const head = reasonAt >= 0 ? line.slice(0, reasonAt) : line;
  const fields = new Map<string, string>();
  const starts = [...head.matchAll(FIELD_START)];
  starts.forEach((match, i) => {
    const key = match[1]!;
    const end = starts[i + 1]?.index ?? head.length;
    if (!fields.has(key)) fields.set(key, head.slice(match.index + match[0].length, end).trim());
  });
  if (reasonAt >= 0) fields.set('Reason', line.slice(reasonAt).replace(/^\s*Reason=/, '').trim());
  return fields;
}
