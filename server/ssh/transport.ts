// What every way of reaching a cluster offers. Transports know nothing about SLURM, the database or GraphQL.

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** null when the remote side ended by a signal or the channel was torn down. */
  exitCode: number | null;
  durationMs: number;
}

export interface ExecOptions {
  /** Overrides the cluster's command timeout; on expiry the channel is closed and a CommandTimeoutError thrown. */
  timeoutMs?: number;
  stdin?: string;
}

export interface Transport {
  /** Runs argv on the cluster. Rejects only when the command could not be run; a non-zero exit is a result. */
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  close(): Promise<void>;
}
