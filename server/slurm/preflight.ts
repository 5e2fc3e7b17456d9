// SLURM's own verdict on a script before it is launched: `sbatch --test-only` reads the same #SBATCH directives as the
// real launch and answers whether and when the job would start, queuing nothing. The script goes on stdin (nothing is
// written on the cluster); the answer is parsed here, its words kept for the user.
import type { Transport } from '../ssh/transport.js';

export interface TestOnlyAnswer {
  accepted: boolean;
  /** SLURM's expected start, its "standard" local time (YYYY-MM-DDTHH:MM:SS); null when refused or not said. */
  startAt: string | null;
  nodes: string | null;
  partition: string | null;
  /** SLURM's words: the acceptance line, or the refusal without its `sbatch: error:` prefixes. */
  message: string;
}

/** argv for Transport.exec; the script is its stdin. */
export function testOnlyCommand(): string[] {
  return ['env', 'SLURM_TIME_FORMAT=standard', 'sbatch', '--test-only'];
}

// "sbatch: Job 4195 to start at 2026-12-05T04:47:07 using 1 processors on nodes gpu-a100 in partition gpu"
const ACCEPTED = /Job \d+ to start at (\S+) using \d+ processors? on nodes (\S+) in partition (\S+)/;

export function parseTestOnly(exitCode: number | null, output: string): TestOnlyAnswer {
  const lines = output.split('\n').map((line) => line.trim()).filter(Boolean);
  const accepted = lines.map((line) => ACCEPTED.exec(line)).find((match) => match !== null);
  if (exitCode === 0 && accepted) {
    const startAt = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(accepted[1]!) ? accepted[1]! : null;
    return { accepted: true, startAt, nodes: accepted[2]!, partition: accepted[3]!, message: accepted[0] };
  }
  // The refusal's own words, most specific last ("allocation failure: …" after "sbatch: error: …"), each once.
  const words = [...new Set(lines.map((line) => line.replace(/^(sbatch: )?(error: )?(Batch job submission failed: )?(allocation failure: )?/i, '').trim()).filter(Boolean))];
  return { accepted: false, startAt: null, nodes: null, partition: null, message: words.join('; ') || `sbatch --test-only exited with ${exitCode ?? 'a signal'} and said nothing` };
}

export async function testSubmission(transport: Transport, script: string): Promise<TestOnlyAnswer> {
  const result = await transport.exec(testOnlyCommand(), { kind: 'preflight', stdin: script });
  return parseTestOnly(result.exitCode, `${result.stderr}\n${result.stdout}`);
}

/**
 * The field of a launch a refusal concerns, from SLURM's words; null when they name none ("Requested node
 * configuration is not available" may be GPUs, CPUs or memory: the partition check names those before SLURM is asked).
 */
export function refusedField(message: string, gpuType: string | null): string | null {
  const rules: Array<[RegExp, string]> = [
    [/invalid partition|partition.*(not available|down|inactive)/i, 'partition'],
    [/invalid account|account\/partition/i, 'account'],
    [/invalid qos|qos/i, 'qos'],
    [/time limit/i, 'timeLimit'],
    [/memory/i, 'memory'],
    [/node count|nodes? (specification|requested)/i, 'nodes'],
    [/processors|cpu count|cpus?[- ]per/i, 'cpusPerTask'],
    [/generic resource|gres/i, gpuType ? 'gpuType' : 'gpusPerNode'],
    [/dependency/i, 'dependsOn'],
  ];
  return rules.find(([pattern]) => pattern.test(message))?.[1] ?? null;
}
