// Typed errors. The Pothos errors plugin turns these into GraphQL results (`... on Error { message }`);
// anything that is not one of these is masked by Yoga before it reaches a client.

export class AppError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class NotFoundError extends AppError {}

export class ValidationError extends AppError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export class ConfigError extends AppError {}

export class ClusterUnreachableError extends AppError {
  constructor(
    readonly cluster: string,
    message: string,
  ) {
    super(`${cluster}: ${message}`);
  }
}

/** The host presented a key we cannot vouch for; never silently accepted. */
export class HostKeyError extends ClusterUnreachableError {
  constructor(
    cluster: string,
    readonly fingerprint: string,
    readonly changed: boolean,
    detail: string,
  ) {
    super(cluster, detail);
  }
}

/** An OpenSSH ControlMaster connection (Duo/MFA clusters) is gone: a person must log in again in a terminal. */
export class ReauthRequiredError extends ClusterUnreachableError {
  constructor(
    cluster: string,
    /** The exact command that re-opens the master connection. */
    readonly command: string,
  ) {
    super(cluster, `needs you to log in again: run \`${command}\` in a terminal`);
  }
}

export class CommandTimeoutError extends AppError {}

/** Asked again too soon for something that costs a remote command (server/rate-limit.ts). */
export class RateLimitedError extends AppError {
  constructor(
    readonly operation: string,
    readonly retryAfterSeconds: number,
  ) {
    super(`${operation}: asked too often; try again in ${retryAfterSeconds} s`);
  }
}

export class SlurmError extends AppError {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${command} failed${exitCode === null ? '' : ` (exit ${exitCode})`}: ${stderr.trim() || 'no output'}`);
  }
}
