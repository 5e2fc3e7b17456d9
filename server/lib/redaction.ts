// Paths of the files that hold SSH keys, passwords and host keys on this machine never leave the server: every
// answer (GraphQL, server/http/redaction.ts) and every push (server/push/notifier.ts) goes through this replacement.
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The secret files a cluster entry names (server/config.ts ClusterConfig has these fields). */
// A cluster's key, password and known_hosts files; a notification destination's token and webhook-URL files.
const SECRET_FILE_FIELDS = ['identityFile', 'passwordFile', 'knownHostsFile', 'tokenFile', 'urlFile'] as const;

export type SecretFiles = Partial<Record<(typeof SECRET_FILE_FIELDS)[number], string>>;

export type Redact = (text: string) => string;

/** Replaces each configured secret file's path (absolute or ~/ form) with the name of its config field. */
export function createRedactor(clusters: () => SecretFiles[]): Redact {
  return (text) => {
    if (!text.includes('/')) return text;
    const home = homedir();
    const paths: Array<[path: string, placeholder: string]> = [[join(home, '.ssh', 'known_hosts'), '<knownHostsFile>']];
    for (const cluster of clusters()) {
      for (const field of SECRET_FILE_FIELDS) {
        const path = cluster[field];
        if (path) paths.push([path, `<${field}>`]);
      }
    }
    const replacements = paths.flatMap(([path, placeholder]): Array<[string, string]> =>
      path.startsWith(`${home}/`) ? [[path, placeholder], [`~${path.slice(home.length)}`, placeholder]] : [[path, placeholder]],
    );
    // Longest first, so a path that contains another is replaced whole.
    replacements.sort((a, b) => b[0].length - a[0].length);
    let redacted = text;
    for (const [path, placeholder] of replacements) redacted = redacted.replaceAll(path, placeholder);
    return redacted;
  };
}
