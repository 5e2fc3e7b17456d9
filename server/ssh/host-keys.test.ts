import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkAgainstFingerprint, checkAgainstKnownHosts, fingerprintOf, keyTypeOf, knownHostsName, parseKnownHosts } from './host-keys.js';

// Real keys from the real ssh-keygen, so fingerprints and hashed names are checked against OpenSSH itself.
const dir = mkdtempSync(join(tmpdir(), 'mc-hostkeys-'));
function hostKey(name: string) {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
  const publicLine = readFileSync(`${file}.pub`, 'utf8').trim();
  const [type, base64] = publicLine.split(' ') as [string, string];
  const opensshFingerprint = execFileSync('ssh-keygen', ['-l', '-f', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
  return { type, base64, blob: Buffer.from(base64, 'base64'), opensshFingerprint };
}
const serverKey = hostKey('server');
const otherKey = hostKey('other');
const name = knownHostsName('127.0.0.1', 2222);

describe('host keys', () => {
  it('computes the fingerprint and key type exactly as OpenSSH does', () => {
    expect(fingerprintOf(serverKey.blob)).toBe(serverKey.opensshFingerprint);
    expect(keyTypeOf(serverKey.blob)).toBe('ssh-ed25519');
    expect(knownHostsName('login.example.edu', 22)).toBe('login.example.edu');
  });

  it('accepts a matching plain, wildcard or hashed known_hosts entry', () => {
    const plain = parseKnownHosts(`# comment\n[127.0.0.1]:2222,other ${serverKey.type} ${serverKey.base64}\n`);
    expect(checkAgainstKnownHosts(plain, name, serverKey.blob)).toEqual({ ok: true });
    const wildcard = parseKnownHosts(`[127.0.0.*]:2222 ${serverKey.type} ${serverKey.base64}\n`);
    expect(checkAgainstKnownHosts(wildcard, name, serverKey.blob)).toEqual({ ok: true });

    const file = join(dir, 'known_hosts');
    execFileSync('sh', ['-c', `printf '%s\\n' "$1" > "$2" && ssh-keygen -q -H -f "$2"`, 'sh', `${name} ${serverKey.type} ${serverKey.base64}`, file]);
    const hashed = readFileSync(file, 'utf8');
    expect(hashed.startsWith('|1|')).toBe(true);
    expect(checkAgainstKnownHosts(parseKnownHosts(hashed), name, serverKey.blob)).toEqual({ ok: true });
    expect(checkAgainstKnownHosts(parseKnownHosts(hashed), knownHostsName('127.0.0.1', 2223), serverKey.blob)).toMatchObject({ ok: false, changed: false });
  });

  it('reports an unknown host as unknown and a different key of the same type as changed', () => {
    const entries = parseKnownHosts(`${name} ${otherKey.type} ${otherKey.base64}\n`);
    expect(checkAgainstKnownHosts(entries, name, serverKey.blob)).toMatchObject({ ok: false, changed: true, reason: expect.stringMatching(/CHANGED/) });
    expect(checkAgainstKnownHosts(entries, 'elsewhere', serverKey.blob)).toMatchObject({ ok: false, changed: false });
    expect(checkAgainstKnownHosts(parseKnownHosts(`!${name.replace(/[[\]]/g, '?')},* ${serverKey.type} ${serverKey.base64}\n`), name, serverKey.blob)).toMatchObject({ ok: false });
  });

  it('refuses a revoked key even when it is also listed as valid', () => {
    const entries = parseKnownHosts(`@revoked * ${serverKey.type} ${serverKey.base64}\n${name} ${serverKey.type} ${serverKey.base64}\n`);
    expect(checkAgainstKnownHosts(entries, name, serverKey.blob)).toMatchObject({ ok: false, changed: true, reason: expect.stringMatching(/revoked/) });
  });

  it('checks a pinned fingerprint', () => {
    expect(checkAgainstFingerprint(serverKey.opensshFingerprint, serverKey.blob)).toEqual({ ok: true });
    expect(checkAgainstFingerprint(otherKey.opensshFingerprint, serverKey.blob)).toMatchObject({ ok: false, changed: true });
  });
});
