// What a benchmark returns, and how its table is printed (the same Markdown goes to the terminal and the README).

export interface Figure {
  /** What was measured, e.g. "initial JS (gzip)". */
  label: string;
  value: string;
  goal?: string;
  /** Whether the goal is reached; absent when there is no goal. */
  met?: boolean;
}

export interface Table {
  columns: string[];
  rows: Array<Array<string | number>>;
}

export interface BenchOutcome {
  figures: Figure[];
  tables?: Table[];
  notes?: string[];
}

export interface BenchResult extends BenchOutcome {
  name: string;
  title: string;
  ranAt: string;
  seconds: number;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; kernel: string };
  /** The machine's 1-minute load average when the benchmark started and ended (other processes share the cores). */
  load?: { before: number; after: number };
}

export interface Bench {
  title: string;
  run(): Promise<BenchOutcome>;
}

function markdownTable(table: Table): string {
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  return [line(table.columns), line(table.columns.map(() => '---')), ...table.rows.map(line)].join('\n');
}

export function formatResult(result: BenchResult): string {
  const { machine } = result;
  const verdict = (figure: Figure) => (figure.met === undefined ? '' : figure.met ? 'met' : '**missed**');
  const parts = [
    `### ${result.title}`,
    `_${result.ranAt.slice(0, 16).replace('T', ' ')} UTC, ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}; took ${result.seconds} s${result.load ? `; load average (1 min) ${result.load.before.toFixed(2)} at the start, ${result.load.after.toFixed(2)} at the end` : ''}_`,
    markdownTable({ columns: ['figure', 'value', 'goal', ''], rows: result.figures.map((figure) => [figure.label, figure.value, figure.goal ?? '', verdict(figure)]) }),
    ...(result.tables ?? []).map(markdownTable),
    ...(result.notes ?? []).map((note) => `- ${note}`),
  ];
  return parts.join('\n\n');
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export const kB = (bytes: number) => `${(bytes / 1024).toFixed(1)} kB`;
