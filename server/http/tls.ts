// The server's own HTTPS (server.tls): a phone installs the app and receives pushes only from a secure origin.
// Certificates are renewed in place (certbot, acme.sh, a Tailscale or Caddy export): the files are watched and the
// running server takes the new pair for its next handshakes, without a restart and without dropping open sockets.
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../errors.js';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface TlsPair {
  cert: Buffer;
  key: Buffer;
}

/**
 * Reads the pair and checks that it can serve: unreadable files, something that is not PEM and a key that does not
 * belong to the certificate are each named here, at start or at a reload, instead of failing every handshake later.
 */
export function readTlsPair(files: TlsFiles): TlsPair {
  const read = (field: keyof TlsFiles) => {
    try {
      return readFileSync(files[field]);
    } catch (error) {
      throw new ConfigError(`server.tls.${field}: cannot read ${files[field]}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  const pair = { cert: read('certFile'), key: read('keyFile') };
  // One at a time first, so the message names the file at fault; then together, which checks that they match.
  for (const [field, part] of [['certFile', { cert: pair.cert }], ['keyFile', { key: pair.key }]] as const) {
    try {
      createSecureContext(part);
    } catch (error) {
      throw new ConfigError(`server.tls.${field}: ${files[field]} is not a PEM ${field === 'certFile' ? 'certificate' : 'private key'} (${(error as Error).message})`);
    }
  }
  try {
    createSecureContext(pair);
  } catch (error) {
    throw new ConfigError(`server.tls.keyFile: ${files.keyFile} is not the key of the certificate in ${files.certFile} (${(error as Error).message})`);
  }
  return pair;
}

/**
 * Calls onChange with the new pair when either file changes, onError when the new files cannot serve (the running
 * pair is kept). The directories are watched, not the files: renewals replace a file (or the symlink certbot keeps
 * in live/) by a rename, which a watch on the old file never sees. Changes are gathered for a moment, since a
 * renewal writes the certificate and the key one after the other.
 */
export function watchTlsFiles(files: TlsFiles, onChange: (pair: TlsPair) => void, onError: (error: Error) => void, settleMs = 300): { close(): void } {
  const names = new Set([basename(files.certFile), basename(files.keyFile)]);
  let timer: NodeJS.Timeout | undefined;
  const reload = () => {
    try {
      onChange(readTlsPair(files));
    } catch (error) {
      onError(error as Error);
    }
  };
  const watchers: FSWatcher[] = [...new Set([dirname(files.certFile), dirname(files.keyFile)])].map((directory) =>
    watch(directory, (_event, name) => {
      // Some platforms give no name; then any change in the directory may be ours.
      if (name && !names.has(name.toString()) && !name.toString().startsWith('..')) return;
      clearTimeout(timer);
      timer = setTimeout(reload, settleMs);
    }),
  );
  return {
    close() {
      clearTimeout(timer);
      for (const watcher of watchers) watcher.close();
    },
  };
}
