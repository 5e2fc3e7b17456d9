// The CLI refuses a bad clusters.yaml with one line naming file, cluster and field, and never starts listening.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';

// A child node with tsx takes 6–8 s to load the server on a busy machine: the child's own 30 s timeout is the bound,
// not vitest's 5 s default.
it.each([
  ['a typo in a field', 'clusters:\n  hpc:\n    hots: login.example.edu\n    user: me\n    agent: true\n', 'cluster "hpc": unknown field "hots" (did you mean "host"?)'],
  ['a missing host', 'clusters:\n  hpc:\n    user: me\n    agent: true\n', 'cluster "hpc": field "host" is required'],
])('exits with status 2 on %s', (_case, yaml, expected) => {
  const dir = mkdtempSync(join(tmpdir(), 'mc-main-'));
  const configPath = join(dir, 'clusters.yaml');
  writeFileSync(configPath, yaml);
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'server/main.ts', '--config', configPath, '--data-dir', join(dir, 'data'), '--port', '0'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(result.status).toBe(2);
  expect(result.stderr.trim()).toBe(`error: ${configPath}: ${expected}`);
  expect(result.stdout).not.toContain('running at');
}, 60_000);
