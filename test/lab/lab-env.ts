// How tests and the demo find the SLURM lab that `npm run lab:up` started (test/lab/lab.sh writes lab.json).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { clusterConfig, type ClusterConfig } from '../../server/config.js';

export interface Lab {
  host: string;
  port: number;
  user: string;
  identityFile: string;
  /** The lab's second cluster login (`mlops2`), with its own key that logs in as that account only. */
  otherUser: { user: string; identityFile: string };
  knownHostsFile: string;
  hostKeyFingerprint: string;
  stateDir: string;
  slurmVersion: string;
  accounting: boolean;
  nodes: string[];
  partitions: string[];
}

export const labDir = (): string => process.env.MC_LAB_DIR ?? '/var/tmp/mission-control-lab';

export function readLab(): Lab | null {
  const file = join(labDir(), 'lab.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Lab) : null;
}

/**
 * The lab for a suite that needs it. In CI a missing lab is a failure, never a skip; on a developer's machine the
 * suite is skipped with the reason, and `npm run lab:up` brings the lab.
 */
export function labForSuite(suite: string): Lab | null {
  const lab = readLab();
  if (lab) return lab;
  const reason = `${suite}: the SLURM lab is not up (no ${join(labDir(), 'lab.json')}); run \`npm run lab:up\` as root`;
  if (process.env.CI) throw new Error(reason);
  console.warn(`SKIPPED ${reason}`);
  return null;
}

/** The lab as a clusters.yaml entry: what a user would write for a real cluster. */
export function labClusterEntry(lab: Lab) {
  return { host: lab.host, port: lab.port, user: lab.user, identityFile: lab.identityFile, knownHostsFile: lab.knownHostsFile };
}

/** The second lab user as a clusters.yaml `logins:` entry: another person's own login to the same cluster. */
export function labLoginEntry(lab: Lab) {
  return { user: lab.otherUser.user, identityFile: lab.otherUser.identityFile };
}

export function labClustersYaml(lab: Lab, name = 'lab'): string {
  return stringify({ clusters: { [name]: labClusterEntry(lab) } });
}

/** The lab as the validated config object a service receives (defaults as loadConfig fills them). */
export function labClusterConfig(lab: Lab, overrides: Partial<ClusterConfig> = {}): ClusterConfig {
  return { ...clusterConfig('lab', labClusterEntry(lab)), ...overrides };
}

/** A shell command run on the lab as its user, through its sshd, to check what the cluster really has. */
export function onLab(lab: Lab, script: string): { stdout: string; status: number } {
  const ssh = ['-i', lab.identityFile, '-p', String(lab.port), '-o', `UserKnownHostsFile=${lab.knownHostsFile}`, '-o', 'BatchMode=yes', `${lab.user}@${lab.host}`, script];
  try {
    return { stdout: execFileSync('ssh', ssh, { encoding: 'utf8' }), status: 0 };
  } catch (error) {
    const failed = error as { stdout: string; status: number };
    return { stdout: failed.stdout, status: failed.status };
  }
}
