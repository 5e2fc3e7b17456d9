// One leader among a group server's replicas (issue 21): the one replica that polls SLURM and runs the other
// background loops. Launches, cancels and reads work on every replica; only the leader's loops write what the clusters
// say, so two replicas must never poll at once.
//
// Leadership is a session-level PostgreSQL advisory lock (pg_try_advisory_lock on one constant key), held on a
// connection of its own: a pooled connection would carry the session's lock to whichever query borrowed it next, and
// the pool may close it when idle. The lock lives exactly as long as the backend's session: when the leader process
// dies, even by SIGKILL, its kernel closes the socket, the backend reads end-of-file, exits, and PostgreSQL frees every
// lock the session held. Nothing has to expire and no replica has to be told.
//
// What bounds a takeover: the followers try every retryMs, so a leader that died (or stopped) is followed within
// retryMs plus one round trip. A leader whose machine vanished without closing its socket (power, a cut network) is
// noticed by PostgreSQL through TCP keepalive on the backend's socket (set per session below, ~11 s) before its lock
// is freed; the leader itself notices through keepalive on its own socket, and sooner through fence() failing.
// The lock guarantees one holder; fence() (run by the leader before each unit of leader-only work, a poll tick) makes
// the leader's belief follow the lock: a leader cut off from the database steps down at its next fence, while the
// database still holds its lock, so no two replicas pass a fence at once. A unit of work begun after a passing fence
// could overlap a new leader only by outlasting PostgreSQL's keepalive plus retryMs.
//
// The embedded (SQLite) server is one process on its own file: it is always its own leader, behind the same API.
import type pg from 'pg';
import { ConfigError } from '../errors.js';
import { componentLogger, errorFields, type Logger } from '../lib/log.js';
import { databaseKind } from './orm-config.js';

/** Leadership as the server's background loops see it, whichever engine the server runs on. */
export interface LeaderLock {
  /**
   * Begins trying to lead (and keeps trying every retryMs while a follower). Resolves once the first attempt has
   * answered, and when it won, once onAcquired has returned; never rejects (a database that cannot be reached is
   * logged and tried again).
   */
  start(): Promise<void>;
  /** Steps down (awaiting onLost, so leader-only work has ended before another replica may begin), frees the lock and closes its connection. */
  stop(): Promise<void>;
  /** What this replica believes now; fence() checks it against the database. */
  isLeader(): boolean;
  /**
   * Whether this replica still holds the lock, asked of the database (a short timeout); run before each unit of
   * leader-only work. False for a follower. When the check fails or the lock is gone, the replica steps down (onLost)
   * before fence() resolves.
   */
  fence(): Promise<boolean>;
}

export interface LeaderLockOptions {
  /** How often a follower tries to take the lock: the bound on a takeover after the leader dies. */
  retryMs: number;
  /** This replica became the leader: start the leader-only loops. Called one at a time with onLost, in order. */
  onAcquired: () => void | Promise<void>;
  /** This replica is no longer the leader (`reason` in words): stop the leader-only loops. */
  onLost: (reason: string) => void | Promise<void>;
  log?: Logger;
}

/** The lock for the server's database target: PostgreSQL's advisory lock for a postgres:// URL, else always the leader. */
export function leaderLockFor(target: string, options: LeaderLockOptions): LeaderLock {
  return databaseKind(target) === 'postgresql' ? createLeaderLock({ ...options, url: target }) : createSoleLeader(options);
}

// Any constant every replica shares ("MCLD" in ASCII). Advisory locks are scoped to a database, so servers on other
// databases of one PostgreSQL never contend. Below 2^31: pg_locks shows it as classid 0, objid KEY.
const LOCK_KEY = 0x4d434c44;
/** How long the first connection (and each reconnection) may take before the attempt counts as failed. */
const CONNECT_TIMEOUT_MS = 5_000;
/** How long a fence (and the lock's other statements) may take: a leader that cannot ask within this steps down. */
const STATEMENT_TIMEOUT_MS = 2_000;
/** The leader's side of keepalive: the first probe after this much silence on its socket. */
const KEEPALIVE_DELAY_MS = 5_000;
// The backend's side: PostgreSQL frees a vanished leader's lock only once it knows the socket is dead; the server's
// default is the operating system's (two hours on Linux). 5 s idle, then 3 probes 2 s apart.
const SESSION_SETUP = "select set_config('tcp_keepalives_idle', '5', false), set_config('tcp_keepalives_interval', '2', false), set_config('tcp_keepalives_count', '3', false)";
const TRY_LOCK = 'select pg_try_advisory_lock($1::bigint) as acquired';
// Asked of pg_locks rather than trusted: a `select 1` would prove the connection, this proves the lock on it.
const HOLDS_LOCK = `select exists (
  select from pg_locks
  where locktype = 'advisory' and pid = pg_backend_pid() and granted
    and (classid::bigint << 32 | objid::bigint) = $1::bigint and objsubid = 1
) as held`;

function checkRetry(retryMs: number): void {
  if (!Number.isFinite(retryMs) || retryMs <= 0) throw new ConfigError(`leader lock: retryMs must be a positive number of milliseconds, not ${retryMs}`);
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Tells onAcquired and onLost one at a time, in the order they happened: a loss during a slow onAcquired is told after
 * it returns, so the caller never stops loops it is still starting. A callback's failure is logged, never thrown into
 * a timer or a connection's event.
 */
function announcer(log: Logger) {
  let announced = Promise.resolve();
  return {
    tell(what: 'onAcquired' | 'onLost', call: () => void | Promise<void>): Promise<void> {
      announced = announced.then(async () => {
        try {
          await call();
        } catch (error) {
          log.error(errorFields(error), `leader lock: ${what} failed`);
        }
      });
      return announced;
    },
    /** Every callback told so far has returned. */
    settled: () => announced,
  };
}

/** The leader lock of a group server: a PostgreSQL advisory lock on its own connection to `url`. */
export function createLeaderLock(options: LeaderLockOptions & { url: string }): LeaderLock {
  const { url, retryMs, onAcquired, onLost } = options;
  checkRetry(retryMs);
  const log = options.log ?? componentLogger('server');
  const announce = announcer(log);
  /** The lock's connection: while connected, a leader's or a follower's; null between a failure and the next try. */
  let client: pg.Client | null = null;
  let leader = false;
  let running = false;
  let retryTimer: NodeJS.Timeout | undefined;
  /** An attempt has failed since the last that reached the database: an outage is logged once, not every retryMs. */
  let failing = false;
  // Attempts run one after another (a retry can come due while a slow connect is still under way).
  let lastAttempt = Promise.resolve();

  function scheduleRetry(afterMs = retryMs): void {
    if (!running || leader || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void attempt();
    }, afterMs);
    retryTimer.unref();
  }

  /** Drops `lost` (if it is still the lock's connection): steps down when leading, and tries again (connecting anew). */
  function dropConnection(lost: pg.Client, reason: string): void {
    if (lost !== client) return;
    client = null;
    // end() also destroys a socket stuck on an unanswered statement; its failure changes nothing.
    lost.end().catch(() => undefined);
    if (!leader) return scheduleRetry();
    leader = false;
    log.warn({ reason }, 'leader lock: no longer the leader');
    void announce.tell('onLost', () => onLost(reason));
    // A replica that just lost its connection is the likelier unwell one: its first try waits a round longer, so a
    // healthy follower (trying every retryMs) takes over first when there is one.
    scheduleRetry(retryMs * 2);
  }

  async function connect(): Promise<pg.Client> {
    // Loaded here, not at the top: the embedded server never loads the PostgreSQL client (orm-config.ts).
    const { default: pgModule } = await import('pg');
    const fresh = new pgModule.Client({
      connectionString: url,
      application_name: 'mission-control leader lock',
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      statement_timeout: STATEMENT_TIMEOUT_MS,
      // The server's statement_timeout cannot end a statement the server never received (a dead network).
      query_timeout: STATEMENT_TIMEOUT_MS,
    });
    // Listening before connecting: an 'error' nobody listens to would end the process. A server restart or
    // pg_terminate_backend arrives as 'error' then 'end'; whichever comes first steps the leader down.
    fresh.on('error', (error) => dropConnection(fresh, `the lock's connection failed: ${error.message}`));
    fresh.on('end', () => dropConnection(fresh, "the lock's connection closed"));
    client = fresh;
    await fresh.connect();
    await fresh.query(SESSION_SETUP);
    return fresh;
  }

  async function tryToLead(): Promise<void> {
    if (!running || leader) return;
    let current = client;
    try {
      current ??= await connect();
      const { rows } = await current.query<{ acquired: boolean }>(TRY_LOCK, [LOCK_KEY]);
      if (failing) log.info('leader lock: the database answers again');
      failing = false;
      // Stopped meanwhile: stop() frees a lock won just now with the connection; lost meanwhile: already retrying.
      if (!running || current !== client) return;
      if (rows[0]?.acquired) {
        leader = true;
        log.info('leader lock: this replica is the leader');
        void announce.tell('onAcquired', onAcquired);
      }
    } catch (error) {
      if (!failing) log.warn(errorFields(error), `leader lock: could not try the lock; trying again every ${retryMs} ms`);
      failing = true;
      // A connection that failed while connecting is dropped here too (pg tells a failed connect only by rejecting).
      const failed = current ?? client;
      if (failed) dropConnection(failed, messageOf(error));
    } finally {
      scheduleRetry();
    }
  }

  function attempt(): Promise<void> {
    lastAttempt = lastAttempt.then(tryToLead);
    return lastAttempt;
  }

  return {
    async start() {
      if (!running) {
        running = true;
        void attempt();
      }
      await lastAttempt;
      await announce.settled();
    },

    async stop() {
      running = false;
      clearTimeout(retryTimer);
      retryTimer = undefined;
      await lastAttempt;
      const current = client;
      client = null;
      if (leader) {
        leader = false;
        await announce.tell('onLost', () => onLost('stopped'));
      }
      if (!current) return;
      // Freed explicitly before the connection closes, so that when stop() returns the lock is free (a closing
      // backend frees it a moment later); unlock_all also frees a lock won by an attempt that raced this stop.
      await current.query('select pg_advisory_unlock_all()').catch(() => undefined);
      await current.end().catch(() => undefined);
    },

    isLeader: () => leader,

    async fence() {
      const current = client;
      if (!leader || !current) return false;
      try {
        const { rows } = await current.query<{ held: boolean }>(HOLDS_LOCK, [LOCK_KEY]);
        if (rows[0]?.held && leader && current === client) return true;
        dropConnection(current, 'the lock is no longer held');
      } catch (error) {
        dropConnection(current, `the fence check failed: ${messageOf(error)}`);
      }
      return false;
    },
  };
}

/** The embedded server's lock: the only process on its database, so the leader from start to stop. */
function createSoleLeader(options: LeaderLockOptions): LeaderLock {
  // Unused here, checked all the same: a wrong value is found on the embedded server too, not first on a group server.
  checkRetry(options.retryMs);
  const announce = announcer(options.log ?? componentLogger('server'));
  let leader = false;
  return {
    async start() {
      if (leader) return;
      leader = true;
      await announce.tell('onAcquired', options.onAcquired);
    },
    async stop() {
      if (!leader) return;
      leader = false;
      await announce.tell('onLost', () => options.onLost('stopped'));
    },
    isLeader: () => leader,
    fence: async () => leader,
  };
}
