// Faults on the real lab, shared by the faults suite (test/lab/faults.test.ts) and the soak benchmark
// (bench/soak.ts): sshd killed as a rebooting login node would be, sshd stalled as a hung one would be, slurmctld
// stopped. Every process is found through the lab's pid files and the process tree under them, never by name, so
// nothing outside the lab is touched. `labUp` heals whatever was stopped (lab.sh up is idempotent).
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lab } from './lab-env.js';

const LAB_SH = fileURLToPath(new URL('./lab.sh', import.meta.url));

interface ProcessEntry {
  pid: number;
  ppid: number;
  comm: string;
}

function processTable(): ProcessEntry[] {
  const entries: ProcessEntry[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // comm is in parentheses and may itself hold spaces or parentheses: the last ')' ends it.
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      entries.push({ pid: Number(name), ppid: Number(fields[1]), comm: stat.slice(stat.indexOf('(') + 1, close) });
    } catch {
      // The process ended while the table was read.
    }
  }
  return entries;
}

/** Every process below `root` (children, grandchildren …) whose program is `comm`. */
function descendants(root: number, comm: string): number[] {
  const table = processTable();
  const found: number[] = [];
  const queue = [root];
  while (queue.length) {
    const parent = queue.shift()!;
    for (const entry of table) {
      if (entry.ppid !== parent) continue;
      queue.push(entry.pid);
      if (entry.comm === comm) found.push(entry.pid);
    }
  }
  return found;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    // Already gone: the fault is in place all the same.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

export interface Stall {
  /** The sshd processes stopped: the listener first, then every session it had spawned. */
  pids: number[];
  resume(): void;
}

export function labFaults(lab: Lab) {
  const pidOf = (file: string) => Number(readFileSync(join(lab.stateDir, file), 'utf8').trim());
  const sshdPid = () => pidOf('ssh/sshd.pid');

  return {
    /**
     * The sshd listener and every session it spawned (our open connection among them), as a reboot of the login
     * node would. The listener is stopped first so that it cannot fork a session that escapes the kill.
     */
    killSshd(): void {
      const listener = sshdPid();
      signal(listener, 'SIGSTOP');
      for (const pid of descendants(listener, 'sshd')) signal(pid, 'SIGTERM');
      signal(listener, 'SIGTERM');
      signal(listener, 'SIGCONT');
    },

    /**
     * A hung login node: the sshd listener and its sessions stopped (SIGSTOP). The TCP port still accepts (the
     * kernel queues connections) but nothing answers, on new connections and on the open one alike, until resume().
     */
    stallSshd(): Stall {
      const listener = sshdPid();
      signal(listener, 'SIGSTOP');
      const sessions = descendants(listener, 'sshd');
      for (const pid of sessions) signal(pid, 'SIGSTOP');
      const pids = [listener, ...sessions];
      return {
        pids,
        resume() {
          for (const pid of [...sessions, listener]) signal(pid, 'SIGCONT');
        },
      };
    },

    /** slurmctld asked to stop (SIGTERM, as an admin's restart does): squeue and sbatch cannot reach it. */
    stopSlurmctld(): void {
      signal(pidOf('slurm/run/slurmctld.pid'), 'SIGTERM');
    },

    /** Starts whatever lab daemon is down (`lab.sh up`, idempotent; it ends with a job through the whole chain). */
    labUp(): Promise<void> {
      return new Promise((resolve, reject) => {
        execFile('bash', [LAB_SH, 'up'], { encoding: 'utf8', timeout: 300_000, maxBuffer: 16 * 1024 * 1024 }, (error, _stdout, stderr) => {
          if (error) reject(new Error(`lab.sh up failed (${error.message.split('\n')[0]}): ${stderr.trim().split('\n').slice(-15).join('\n')}`));
          else resolve();
        });
      });
    },
  };
}

export type LabFaults = ReturnType<typeof labFaults>;
