// ssh2 → the lab's real sshd → real SLURM commands. Host keys, quoting and channel limits against OpenSSH itself.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HostKeyError } from '../../server/errors.js';
import { parseSinfoPartitions } from '../../server/slurm/parse.js';
import { probeCluster } from '../../server/slurm/commands.js';
import { createSsh2Transport } from '../../server/ssh/ssh2-transport.js';
import type { Transport } from '../../server/ssh/index.js';
import { labClusterConfig, labForSuite, onLab } from './lab-env.js';

const lab = labForSuite('lab ssh suite');

describe.skipIf(!lab)('ssh2 to the lab', () => {
  const opened: Transport[] = [];
  const transport = (overrides: Parameters<typeof labClusterConfig>[1] = {}) => {
    const created = createSsh2Transport(labClusterConfig(lab!, overrides));
    opened.push(created);
    return created;
  };
  afterAll(() => Promise.all(opened.map((t) => t.close())));

  it('runs sinfo and squeue through the real sshd and parses what the lab answers', async () => {
    const ssh = transport();
    const sinfo = await ssh.exec(['sinfo', '-h', '-o', '%P|%a|%D|%t']);
    expect(sinfo.exitCode).toBe(0);
    const partitions = parseSinfoPartitions(sinfo.stdout);
    expect(partitions.map((p) => [p.name, p.isDefault, p.available, p.nodes])).toEqual([
      ['gpu', true, true, 2],
      ['cpu', false, true, 1],
    ]);

    const squeue = await ssh.exec(['squeue', '-h', '-t', 'all', '-o', '%i|%T|%u']);
    expect(squeue.exitCode).toBe(0);
    for (const line of squeue.stdout.split('\n').filter(Boolean)) expect(line).toMatch(/^\d+(_\d+|_\[[^\]]+\])?\|[A-Z_]+\|[a-z_][a-z0-9_-]*$/);

    const unknownJob = await ssh.exec(['squeue', '-h', '-j', '999999']);
    expect(unknownJob.exitCode).toBe(1);
    expect(unknownJob.stderr).toContain('Invalid job id specified');

    const probe = await probeCluster(ssh);
    expect(probe.slurmVersion).toBe(lab!.slurmVersion);
    expect(probe.partitions).toEqual(partitions);
  });

  it('delivers hostile argv to the cluster unchanged and never runs any of it', async () => {
    const canary = `/tmp/mc-canary-${process.pid}`;
    const hostile = [`$(touch ${canary})`, `\`touch ${canary}\``, `; touch ${canary}`, `' ; touch ${canary}; '`, `a\ntouch ${canary}`, `--wrap=touch ${canary}`, '', '*', '~', '$HOME', 'ｓｂａｔｃｈ'];
    const ssh = transport();
    const echoed = await ssh.exec(['printf', '%s\\0', ...hostile]);
    expect(echoed.stdout.split('\0').slice(0, -1)).toEqual(hostile);
    const check = await ssh.exec(['test', '-e', canary]);
    expect(check.exitCode).toBe(1);
  });

  it('queues a burst of more commands than sshd allows sessions on one connection', async () => {
    const ssh = transport();
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => ssh.exec(['sh', '-c', 'sleep 0.2; echo "$1"', 'sh', String(i)])));
    expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 24 }, (_, i) => String(i)));
  });

  it('ends a command at its timeout, on the cluster too, and keeps the connection usable', async () => {
    const ssh = transport();
    const sleep = `sleep 30.${process.pid}`;
    await expect(ssh.exec(sleep.split(' '), { timeoutMs: 500 })).rejects.toThrow(/did not finish within 500 ms/);
    expect((await ssh.exec(['echo', 'still here'])).stdout).toBe('still here\n');
    // Closing the channel alone would leave the sleep running (and holding one of sshd's MaxSessions).
    await expect.poll(() => onLab(lab!, `pgrep -u ${lab!.user} -fx '${sleep}'`).status, { timeout: 5000 }).toBe(1);
  });

  it('accepts the pinned fingerprint and refuses a wrong one', async () => {
    expect((await transport({ knownHostsFile: undefined, hostKeyFingerprint: lab!.hostKeyFingerprint }).exec(['true'])).exitCode).toBe(0);
    const wrong = transport({ knownHostsFile: undefined, hostKeyFingerprint: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    const error = await wrong.exec(['true']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HostKeyError);
    expect(error).toMatchObject({ changed: true, fingerprint: lab!.hostKeyFingerprint });
  });

  it('refuses an unknown host with the fingerprint to confirm, and a changed host key loudly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-known-hosts-'));
    const empty = join(dir, 'empty');
    writeFileSync(empty, '');
    const unknown = await transport({ knownHostsFile: empty }).exec(['true']).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(HostKeyError);
    expect(unknown).toMatchObject({ changed: false, fingerprint: lab!.hostKeyFingerprint, message: expect.stringContaining(`unknown host key ${lab!.hostKeyFingerprint}`) });

    const changed = join(dir, 'changed');
    // Another ed25519 key recorded for the lab's host and port: what a man-in-the-middle would look like.
    writeFileSync(changed, `[${lab!.host}]:${lab!.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n`);
    const refused = await transport({ knownHostsFile: changed }).exec(['true']).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(HostKeyError);
    expect(refused).toMatchObject({ changed: true, message: expect.stringContaining('CHANGED') });
  });
});
