import type { ClusterConfig } from '../config.js';
import { createLocalTransport } from './local-transport.js';
import { createOpensshTransport } from './openssh-transport.js';
import { createSsh2Transport } from './ssh2-transport.js';
import type { StreamingTransport } from './transport.js';

export type { ExecOptions, ExecResult, StreamHandle, StreamingTransport, StreamOptions, Transport } from './transport.js';

export function createTransport(cluster: ClusterConfig): StreamingTransport {
  switch (cluster.transport) {
    case 'ssh2':
      return createSsh2Transport(cluster);
    case 'openssh':
      return createOpensshTransport(cluster);
    case 'local':
      return createLocalTransport(cluster);
  }
}
