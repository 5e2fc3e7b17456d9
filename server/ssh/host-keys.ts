// Host-key checking the way OpenSSH does it: a pinned SHA256 fingerprint, or a known_hosts file (plain,
// wildcard and hashed entries). Pure functions: the transport reads the file and decides what to do.
import { createHash, createHmac } from 'node:crypto';

export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The type name is the first length-prefixed string of an SSH public key blob (RFC 4253 §6.6). */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const length = keyBlob.readUInt32BE(0);
  return keyBlob.subarray(4, 4 + length).toString('latin1');
}

interface KnownHostEntry {
  marker: '@revoked' | '@cert-authority' | null;
  hosts: string;
  keyType: string;
  key: Buffer;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0] === '@revoked' || fields[0] === '@cert-authority' ? fields.shift()! : null;
    const [hosts, keyType, keyBase64] = fields;
    if (!hosts || !keyType || !keyBase64) continue;
    entries.push({ marker: marker as KnownHostEntry['marker'], hosts, keyType, key: Buffer.from(keyBase64, 'base64') });
  }
  return entries;
}

/** known_hosts names a host on a non-default port as `[host]:port`. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function wildcardMatches(pattern: string, name: string): boolean {
  const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.')}$`, 'i');
  return regex.test(name);
}

function hostsFieldMatches(hosts: string, name: string): boolean {
  if (hosts.startsWith('|1|')) {
    const [, , salt, hash] = hosts.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  let matched = false;
  for (const pattern of hosts.split(',')) {
    if (pattern.startsWith('!')) {
      if (wildcardMatches(pattern.slice(1), name)) return false;
    } else if (wildcardMatches(pattern, name)) {
      matched = true;
    }
  }
  return matched;
}

export type HostKeyVerdict =
  | { ok: true }
  | { ok: false; changed: boolean; reason: string };

export function checkAgainstKnownHosts(entries: KnownHostEntry[], name: string, keyBlob: Buffer): HostKeyVerdict {
  const forHost = entries.filter((entry) => entry.marker !== '@cert-authority' && hostsFieldMatches(entry.hosts, name));
  if (forHost.some((entry) => entry.marker === '@revoked' && entry.key.equals(keyBlob))) {
    return { ok: false, changed: true, reason: 'the host key is marked @revoked in known_hosts' };
  }
  if (forHost.some((entry) => entry.marker === null && entry.key.equals(keyBlob))) return { ok: true };
  const presentedType = keyTypeOf(keyBlob);
  if (forHost.some((entry) => entry.marker === null && entry.keyType === presentedType)) {
    return { ok: false, changed: true, reason: `the ${presentedType} host key of ${name} has CHANGED since it was recorded in known_hosts` };
  }
  return { ok: false, changed: false, reason: `${name} is not in known_hosts` };
}

export function checkAgainstFingerprint(pinned: string, keyBlob: Buffer): HostKeyVerdict {
  const presented = fingerprintOf(keyBlob);
  if (presented === pinned.replace(/=+$/, '')) return { ok: true };
  return { ok: false, changed: true, reason: `the host key does not match the pinned fingerprint ${pinned}` };
}
