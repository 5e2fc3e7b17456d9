// A file or directory this process really cannot write, also as root (CI and the lab machine run as root, where
// permission bits stop nothing): the permission bits first, then the immutable attribute (`chattr +i`, which binds
// root too on ext4, xfs and btrfs). Null where neither holds, e.g. root on a file system without the attribute.
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Whether a write really succeeds: a file opened for writing, a file created in a directory. */
function writable(path: string): boolean {
  try {
    if (statSync(path).isDirectory()) {
      const probe = join(path, `.write-probe-${process.pid}`);
      writeFileSync(probe, '');
      rmSync(probe);
    } else {
      closeSync(openSync(path, 'r+'));
    }
    return true;
  } catch {
    return false;
  }
}

/** Makes `path` unwritable; returns how to undo it (call it before removing the path), or null when it cannot be. */
export function makeUnwritable(path: string): (() => void) | null {
  const mode = statSync(path).mode & 0o7777;
  chmodSync(path, mode & ~0o222);
  if (!writable(path)) return () => chmodSync(path, mode);
  try {
    execFileSync('chattr', ['+i', path], { stdio: 'ignore' });
  } catch {
    // No chattr, no CAP_LINUX_IMMUTABLE, or a file system without the attribute.
  }
  if (!writable(path)) {
    return () => {
      execFileSync('chattr', ['-i', path], { stdio: 'ignore' });
      chmodSync(path, mode);
    };
  }
  chmodSync(path, mode);
  return null;
}
