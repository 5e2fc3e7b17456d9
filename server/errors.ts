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
/**
 * A user of a group server has no account of their own on the cluster in the config (clusters.NAME.logins): the
 * cluster cannot be reached as them, a typed error wherever a cluster's are (a launch words it under its field).
 */
export class NoClusterLoginError extends ClusterUnreachableError {
  constructor(cluster: string, user: string) {
    super(cluster, `${user} has no login on cluster "${cluster}": an admin adds one to the config as clusters.${cluster}.logins.${user} (its user and identityFile, agent or controlDir)`);
  }
}

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

/**
 * A file read from a project's repository (a Hydra config, its directory, `.mlops-config.yaml`) was refused: it
 * resolves outside the repository, is not a regular file, or passes a limit. `file` is relative to the repository.
 */
export class ProjectFileError extends AppError {
  constructor(
    readonly file: string,
    /** 1-based; null when no line is to blame. */
    readonly line: number | null,
    readonly reason: string,
  ) {
    super(`${file}${line === null ? '' : `:${line}`}: ${reason}`);
  }
}

/**
 * submitJob with the tag of a launch that is already stored (a double tap, or a client retrying a request whose answer
 * it lost): never a second sbatch. A ValidationError of `tag`, so clients that only know those still show it.
 */
export class LaunchAlreadySubmittedError extends ValidationError {
  constructor(
    readonly tag: string,
    /** The launch that has this tag. */
    readonly jobId: number,
  ) {
    super('tag', `this launch is already submitted, as job ${jobId}; open that job, or preview again for a new launch`);
  }
}

/** SLURM accepted a launch, then recording its id failed (a full disk, a database gone read-only): it is not lost. */
export class LaunchNotRecordedError extends AppError {
  constructor(
    readonly cluster: string,
    readonly slurmJobId: string,
    readonly tag: string,
    readonly jobId: number,
    cause: string,
  ) {
    super(
      `${cluster}: SLURM accepted this launch as job ${slurmJobId}, but saving that failed (${cause}); it will be adopted as job ${jobId} by its tag ${tag} within a minute of the database accepting writes again, and not submitted twice`,
    );
  }
}

/**
 * The database cannot be used: a SQLite file that is no database, damaged, or cannot be written; a PostgreSQL server
 * that cannot be reached, refuses the login, or has no such database. `target` names it (a URL without its password).
 */
export class DatabaseUnusableError extends AppError {
  constructor(
    readonly target: string,
    message: string,
  ) {
    super(`${target}: ${message}`);
  }
}

/** A cluster already streams as many live logs as it may (each holds an SSH channel that commands need). */
export class LogTailLimitError extends AppError {
  constructor(
    readonly cluster: string,
    /** How many jobs' logs the cluster streams now: its most at once. */
    readonly following: number,
  ) {
    super(
      `${cluster} already streams the live output of ${following} jobs, its most at once (each holds an SSH channel that commands need): close another job's log, or read this one with job.log`,
    );
  }
}

/**
 * A sweep with more runs than one job array may hold (the cluster's MaxArraySize − 1, or the configured cap). `runs`
 * is null when a float range was only walked up to the limit.
 */
export class SweepTooLargeError extends ValidationError {
  constructor(
    readonly runs: number | null,
    readonly limit: number,
    /** Each key with its count of values, for the message. */
    readonly counts: string[],
  ) {
    super('sweep', `${runs === null ? `more than ${limit}` : runs} runs (${counts.join(' × ')}), more than the limit of ${limit} runs per sweep`);
  }
}

/** submitSweep with the tag of a sweep already stored (a double tap, a retried request): never a second sbatch. */
export class SweepAlreadySubmittedError extends ValidationError {
  constructor(
    readonly tag: string,
    /** The sweep that has this tag. */
    readonly sweepId: number,
  ) {
    super('tag', `this sweep is already submitted, as sweep ${sweepId}; open it, or preview again for a new sweep`);
  }
}
