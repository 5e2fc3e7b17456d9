// What every way of reaching a cluster offers. Transports know nothing about SLURM, the database or GraphQL.

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** null when the remote side ended by a signal or the channel was torn down. */
  exitCode: number | null;
  durationMs: number;
}

/** What every remote command may say about itself. */
export interface CommandInfo {
  /**
   * A stable name of the fixed script or program ('poll', 'submit', 'log-tail'…), for the debug log and the metrics
   * (server/ssh/observed-transport.ts); never a value the command was given.
   */
  kind?: string;
}

/** Told by a transport that logs in (ssh2, OpenSSH master): for the connection counter and the log. */
export interface ConnectionHooks {
  onConnect?: () => void;
}

export interface ExecOptions extends CommandInfo {
  /** Overrides the cluster's command timeout; on expiry the channel is closed and a CommandTimeoutError thrown. */
  timeoutMs?: number;
  stdin?: string;
}

/** Running commands only: what a SLURM command needs (every real transport is a StreamingTransport). */
export interface Transport {
  /** Runs argv on the cluster. Rejects only when the command could not be run; a non-zero exit is a result. */
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  close(): Promise<void>;
}

export interface StreamOptions extends CommandInfo {
  /** Called with each chunk of stdout as it arrives (split at line ends by the caller if it needs lines). */
  onStdout: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
}

export interface StreamHandle {
  /** Ends the remote command (closes its channel or kills the process). */
  stop(): void;
  /** Settles when the command ends for any reason; never rejects. */
  done: Promise<{ exitCode: number | null; error: Error | null }>;
}

/**
 * A transport, which also keeps a long-running command open (live log tails, lifecycle event watches). Every kind
 * (ssh2, openssh, local) is one, and so is every stand-in for a cluster: a fake that has no such command throws
 * from `stream` rather than leave a live feature silently off.
 */
export interface StreamingTransport extends Transport {
  stream(argv: readonly string[], options: StreamOptions): Promise<StreamHandle>;
}
