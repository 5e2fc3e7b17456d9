import type { ClusterConfig } from '../config.js';
import { createLocalTransport } from './local-transport.js';
import { createSsh2Transport } from './ssh2-transport.js';
import type { Transport } from './transport.js';

export type { ExecOptions, ExecResult, Transport } from './transport.js';

export function createTransport(cluster: ClusterConfig): Transport {
  switch (cluster.transport) {
    case 'ssh2':
      return createSsh2Transport(cluster);
    case 'local':
      return createLocalTransport(cluster);
  }
}
