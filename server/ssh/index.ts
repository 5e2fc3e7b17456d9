import { createLocalTransport } from './local-transport.js';
import { createOpensshTransport } from './openssh-transport.js';
import { createSsh2Transport } from './ssh2-transport.js';
import type { ConnectionSettings } from './connection.js';
import type { ConnectionHooks, StreamingTransport } from './transport.js';

export { observeTransport, type CommandRecord, type TransportObserver } from './observed-transport.js';
export type { ConnectionHooks, ExecOptions, ExecResult, StreamHandle, StreamingTransport, StreamOptions, Transport } from './transport.js';

/** The transport a cluster's settings ask for; every kind runs commands and keeps long-running ones open. */
export function createTransport(cluster: ConnectionSettings, hooks: ConnectionHooks = {}): StreamingTransport {
  switch (cluster.transport) {
    case 'ssh2':
      return createSsh2Transport(cluster, hooks);
    case 'openssh':
      return createOpensshTransport(cluster, hooks);
    case 'local':
      return createLocalTransport(cluster);
  }
}
