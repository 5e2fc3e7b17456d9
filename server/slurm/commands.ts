// SLURM commands over a transport. They know nothing about the database or GraphQL.
import type { PartitionInfo } from './parse.js';
import { SlurmError } from '../errors.js';
import type { Transport } from '../ssh/index.js';
import { parseSinfoPartitions, parseSlurmVersion } from './parse.js';

export interface ClusterProbe {
  slurmVersion: string | null;
  partitions: PartitionInfo[];
  latencyMs: number;
}

const SECTION = '--mission-control--';

/** One remote exec answers both questions; the script is a constant, so no value reaches the shell. */
const PROBE_SCRIPT = `sinfo --version && echo ${SECTION} && sinfo -h -o '%P|%a|%D|%t'`;

export async function probeCluster(transport: Transport): Promise<ClusterProbe> {
  const result = await transport.exec(['sh', '-c', PROBE_SCRIPT], { kind: 'probe' });
  if (result.exitCode !== 0) throw new SlurmError('sinfo', result.exitCode, result.stderr);
  const [versionText = '', partitionText = ''] = result.stdout.split(`${SECTION}\n`);
  return {
    slurmVersion: parseSlurmVersion(versionText),
    partitions: parseSinfoPartitions(partitionText),
    latencyMs: Math.round(result.durationMs),
  };
}
