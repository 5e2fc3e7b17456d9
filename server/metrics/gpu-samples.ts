// The job script's GPU sampler files (config/sbatch.template.sh: `<jobDir>/gpu/<node>.csv`, layout.ts), as points.
// Each line is what `TZ=UTC0 nvidia-smi --query-gpu=timestamp,index,utilization.gpu,memory.used,memory.total
// --format=csv,noheader,nounits -l 30` prints, one line per GPU per sample:
//
//   2026/12/05 01:25:41.661, 0, 87, 26624, 40960
//
// Points, per GPU index i (`<node>/` first when the caller names the node, for a job on several nodes whose GPU 0s
// would otherwise be one series):
//   gpu<i>.utilization       percent, 0–100
//   gpu<i>.memory_used_mib   MiB
//   gpu<i>.memory_total_mib  MiB
// at step = the sample's time in whole epoch seconds (the chart's x), time = the same in epoch milliseconds.
// Conservative like the other parsers: a line that is not exactly such a sample (a header, "No devices were found",
// garbage) gives nothing, a field nvidia-smi cannot read ([N/A], [Not Supported]) drops only its own point, and a
// last line without its newline waits for it, also at the final read: nvidia-smi writes whole lines, and a torn one
// could read 87 % as 8.

/** Longest line kept (a GPU sample line is ~45 bytes): a longer one is dropped whole, also across calls. */
const MAX_LINE_BYTES = 4096;

export interface GpuSamplesState {
  /** Inside an over-long line whose start an earlier call dropped. */
  skipping: boolean;
}

/** The state of a file not read yet (a stored state must not be null). */
export function initialGpuSamplesState(): GpuSamplesState {
  return { skipping: false };
}

export interface GpuPoint {
  name: string;
  step: number;
  value: number;
  /** Epoch milliseconds. */
  time: number;
}

export interface GpuSamplesResult {
  points: GpuPoint[];
  /** Bytes of `chunk` used: up to the end of its last complete line. */
  consumed: number;
  state: GpuSamplesState;
}

// nvidia-smi's timestamp (UTC as the sampler asks for it), then the four numbers, each with or without its unit.
const SAMPLE = /^(\d{4})\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?, *(\d{1,4}), *(.*?), *(.*?), *(.*?)\s*$/;
const EARLIEST = Date.UTC(2001, 0, 1);
const LATEST = Date.UTC(2286, 0, 1);

/** A field as a number, without its unit; null for [N/A], [Not Supported], or anything else that is not one. */
function field(text: string, unit: string): number | null {
  const match = new RegExp(`^(\\d{1,9}(?:\\.\\d+)?)(?: ?${unit})?$`).exec(text.trim());
  return match ? Number(match[1]) : null;
}

function samplePoints(line: string, prefix: string): GpuPoint[] {
  const match = SAMPLE.exec(line);
  if (!match) return [];
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const time = Date.UTC(year, month - 1, day, hour, minute, second, Number((match[7] ?? '0').padEnd(3, '0').slice(0, 3)));
  // Date.UTC rolls 2026/02/31 over to March: such a stamp is not a date nvidia-smi printed.
  const date = new Date(time);
  if (!(time >= EARLIEST && time < LATEST) || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day || hour > 23 || minute > 59 || second > 60) return [];
  const gpu = `${prefix}gpu${Number(match[8])}`;
  const step = Math.floor(time / 1000);
  const utilization = field(match[9]!, '%');
  const used = field(match[10]!, 'MiB');
  const total = field(match[11]!, 'MiB');
  const points: GpuPoint[] = [];
  if (utilization !== null && utilization <= 100) points.push({ name: `${gpu}.utilization`, step, value: utilization, time });
  if (used !== null) points.push({ name: `${gpu}.memory_used_mib`, step, value: used, time });
  if (total !== null) points.push({ name: `${gpu}.memory_total_mib`, step, value: total, time });
  return points;
}

/**
 * The samples in `chunk`, the bytes of a sampler file from where the last call's `consumed` ended. `state` is the
 * last call's (null the first time). `node` prefixes the names (`gpu-a100/gpu0.utilization`).
 */
export function parseGpuSamples(chunk: Buffer, state: GpuSamplesState | null | unknown, options: { final?: boolean; node?: string | null } = {}): GpuSamplesResult {
  const prefix = options.node ? `${options.node}/` : '';
  let skipping = (state as GpuSamplesState | null)?.skipping === true;
  const points: GpuPoint[] = [];
  let start = 0;
  for (let end = chunk.indexOf(0x0a); end !== -1; end = chunk.indexOf(0x0a, start)) {
    if (!skipping && end - start <= MAX_LINE_BYTES) points.push(...samplePoints(chunk.toString('utf8', start, end), prefix));
    skipping = false;
    start = end + 1;
  }
  if (skipping || chunk.length - start > MAX_LINE_BYTES) return { points, consumed: chunk.length, state: { skipping: true } };
  return { points, consumed: start, state: { skipping: false } };
}
