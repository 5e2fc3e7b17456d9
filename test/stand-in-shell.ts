// Remote scripts run for real on this machine's shell, with stand-ins (squeue, sbatch, scontrol…) first on PATH in
// a temporary bin/ and everything else (git, flock, awk, stat) the machine's own.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalTransport } from '../server/ssh/local-transport.js';
import type { Transport } from '../server/ssh/transport.js';

export function standInShell(prefix: string) {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const bin = join(root, 'bin');
  mkdirSync(bin);
  const local = createLocalTransport({ name: 'local', commandTimeoutMs: 30_000 });
  const shell: Transport = {
    exec: (argv, options) => local.exec(['env', `PATH=${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, ...argv], options),
    close: () => local.close(),
  };
  return {
    root,
    bin,
    shell,
    async close(): Promise<void> {
      await local.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
