// What a transport needs to know to reach a cluster. The config file's cluster entry (server/config.ts) is one of
// these: the SSH layer states what it reads instead of importing the config, so it depends on nothing above it.
export interface ConnectionSettings {
  /** The cluster's name, in every message. */
  name: string;
  transport: 'ssh2' | 'openssh' | 'local';
  host?: string;
  port: number;
  user?: string;
  identityFile?: string;
  /** true: $SSH_AUTH_SOCK; a string: that agent socket. */
  agent: boolean | string;
  passwordFile?: string;
  knownHostsFile?: string;
  hostKeyFingerprint?: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  maxChannels: number;
  /** openssh: where the ControlMaster sockets live. */
  controlDir: string;
  controlPersist: string;
  /** openssh: never open a connection of our own, only use a master the user opened (MFA clusters). */
  requireMaster: boolean;
}
