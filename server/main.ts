// Entry point: `npm start` (built PWA) or `npm run dev` (Vite middleware, GraphiQL).
import { appendFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Cron } from 'croner';
import { createApp, type Middleware } from './http/app.js';
import { readTlsPair, watchTlsFiles } from './http/tls.js';
import { accessNotice, planAccess } from './access/pairing.js';
import { clusterSecretFiles, defaultConfigPath, defaultServerConfig, LOG_LEVELS, loadConfig, watchConfig, type Config, type LogLevel } from './config.js';
import { databaseKind, databaseTarget } from './db/orm-config.js';
import { initOrm } from './db/orm.js';
import { leaderLockFor, type LeaderLock } from './db/leader-lock.js';
import { ConfigError, DatabaseUnusableError, ValidationError } from './errors.js';
import type { JobServiceOptions } from './jobs/service.js';
import { createEvents, createRedisClients, type PubSub } from './events.js';
import type { Leadership } from './http/health.js';
import { createServices } from './services.js';
import { componentLogger, configureLogging, errorFields, setLogLevel } from './lib/log.js';
import { createRedactor, type SecretFiles } from './lib/redaction.js';

const log = componentLogger('server');

/**
 * How often a group server's follower tries to take the lead: a leader that died is followed within this (well under
 * the shortest poll interval, so no poll is missed).
 */
const LEADER_RETRY_MS = 2_000;

export interface ServerOptions {
  configPath: string;
  dataDir: string;
  /** A PostgreSQL URL (the group server); without it, the SQLite file in dataDir. */
  databaseUrl?: string;
  /** A Redis URL: the event bus of a group server's replicas (every replica's subscribers hear every change). */
  redisUrl?: string;
  /**
   * Called when this replica lost its leadership of a group server (its lock's connection broke): its background loops
   * have stopped for good, and a new process must take its place (the command line's server exits for its service
   * manager to restart it). A replica that stops of its own accord is not told.
   */
  onLeadershipLost?: (reason: string) => void;
  port: number;
  host: string;
  dev: boolean;
  /** The built PWA; defaults to client/dist. */
  staticDir?: string;
  /** --log-level: wins over MC_LOG_LEVEL and server.logLevel. */
  logLevel?: LogLevel;
}

/** Every file path in the config that leads to a secret: replaced in every log line by the name of its field. */
function secretFiles(config: Config): SecretFiles[] {
  const destinations = Object.values(config.notifications?.destinations ?? {}).map((destination) => (destination.type === 'email' ? destination.smtp : destination));
  return [...clusterSecretFiles(config.clusters), ...destinations];
}

const projectRoot = fileURLToPath(new URL('..', import.meta.url));

export function optionsFromArgs(argv: string[]): ServerOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      'data-dir': { type: 'string' },
      'database-url': { type: 'string' },
      'redis-url': { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      dev: { type: 'boolean', default: false },
      'log-level': { type: 'string' },
    },
  });
  const logLevel = values['log-level'];
  if (logLevel !== undefined && !(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new ConfigError(`--log-level: must be one of ${LOG_LEVELS.join(', ')}, not ${JSON.stringify(logLevel)}`);
  const port = Number(values.port ?? process.env.MC_PORT ?? 4000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`--port: not a TCP port: ${values.port ?? process.env.MC_PORT}`);
  return {
    configPath: values.config ? resolve(values.config) : defaultConfigPath(),
    dataDir: resolve(values['data-dir'] ?? process.env.MC_DATA_DIR ?? 'data'),
    databaseUrl: values['database-url'] ?? process.env.MC_DATABASE_URL,
    redisUrl: values['redis-url'] ?? process.env.MC_REDIS_URL,
    port,
    host: values.host ?? process.env.MC_HOST ?? '127.0.0.1',
    dev: values.dev,
    logLevel: logLevel as LogLevel | undefined,
  };
}

/**
 * For the crash-safety tests: MC_SUBMIT_TRACE names a file that gets a line per step of every launch, written before
 * the step goes on so a SIGKILL cannot lose it; MC_SUBMIT_PAUSE_MS holds a launch that long after the steps whose
 * windows are otherwise too brief for a kill to land in (before the insert, before sbatch, before saving its id).
 */
function submitTrace(env: NodeJS.ProcessEnv): Pick<JobServiceOptions, 'onSubmitPhase'> {
  const file = env.MC_SUBMIT_TRACE;
  if (!file) return {};
  const pauseMs = Number(env.MC_SUBMIT_PAUSE_MS ?? 0);
  return {
    async onSubmitPhase(phase, tag) {
      appendFileSync(file, `${tag} ${phase} ${Date.now()}\n`);
      if (pauseMs > 0 && (phase === 'prepared' || phase === 'stored' || phase === 'answered')) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    },
  };
}

/**
 * Starts everything, or fails before listening: a server never runs half-configured. Each thing started is followed by
 * what stops it, on one stack: stop() unwinds it in reverse, and so does a start that fails half-way (a port in use,
 * Vite failing), so nothing it opened (database, services, config watcher, Vite, sockets) is left behind.
 */
export async function startServer(options: ServerOptions) {
  const config = loadConfig(options.configPath);
  // The config in force, for the log's redaction (a reload may name other secret files).
  let current = config;
  let configState: 'valid' | 'reload-refused' = 'valid';
  configureLogging({ level: config.server?.logLevel, redactPaths: createRedactor(() => secretFiles(current)) });
  if (options.logLevel) setLogLevel(options.logLevel);
  const tlsFiles = config.server?.tls;
  // Before anything opens: a certificate that cannot serve stops the start with its file named.
  const tls = tlsFiles ? readTlsPair(tlsFiles) : undefined;
  const stops: Array<() => unknown> = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  try {
    const target = databaseTarget(options);
    if (options.redisUrl && databaseKind(target) !== 'postgresql') throw new ConfigError('--redis-url (MC_REDIS_URL): the event bus of several replicas needs their shared PostgreSQL database (--database-url); the embedded server is one process');
    const orm = await initOrm(target);
    stops.push(() => orm.close());
    let events: PubSub | undefined;
    if (options.redisUrl) {
      const clients = await createRedisClients(options.redisUrl);
      stops.push(() => clients.quit());
      events = createEvents({ redis: clients });
      stops.push(() => events!.close());
    }
    // Leadership among a group server's replicas (always this process's on SQLite): the poller asks before each poll.
    let leader: LeaderLock | undefined;
    let role: Leadership = 'follower';
    const services = createServices({
      orm,
      config,
      events,
      fence: () => leader?.fence() ?? Promise.resolve(false),
      // Among replicas an event can be lost (Redis is at most once): the leader catches up the ends nobody announced.
      notify: { catchUpEnds: Boolean(options.redisUrl) },
      // Fault injection for the crash-safety tests: die exactly between sbatch's answer and saving the job's id.
      jobs: { replicas: Boolean(options.redisUrl), ...(process.env.MC_FAULT === 'kill-after-sbatch' ? { afterSbatch: () => void process.kill(process.pid, 'SIGKILL') } : {}), ...submitTrace(process.env) },
    });
    stops.push(() => services.close());
    // The destinations' secrets as they are read (an SMTP password, a webhook URL): never written in a line.
    configureLogging({ secretValues: () => services.notify.secretValues() });
    // Server settings are read at start only: who may connect does not change under a running server.
    const access = { server: config.server ?? defaultServerConfig, host: options.host, configPath: options.configPath, dataDir: options.dataDir };
    const plan = await planAccess(services.tokens, access);

    let viteMiddleware: Middleware | undefined;
    const builtClient = options.staticDir ?? resolve(projectRoot, 'client/dist');
    const staticDir = !options.dev && existsSync(resolve(builtClient, 'index.html')) ? builtClient : undefined;
    if (!options.dev && !staticDir) log.warn('client/dist is missing: serving the API only (run `npm run build` for the app)');
    const app = createApp({
      services,
      graphiql: options.dev,
      staticDir,
      tls,
      access: { allowWithoutToken: !plan.required, corsOrigins: access.server.corsOrigins },
      operations: { metricsAccess: access.server.metricsAccess, configState: () => configState, leadership: () => role },
      // Vite is created after the app because its HMR socket attaches to the app's HTTP server.
      clientMiddleware: options.dev ? (req, res, next) => viteMiddleware?.(req, res, next) : undefined,
    });
    stops.push(() => app.stop());
    if (tlsFiles) {
      const tlsWatcher = watchTlsFiles(
        tlsFiles,
        (pair) => {
          app.setTls(pair);
          log.info({ certFile: tlsFiles.certFile }, 'reloaded the certificate');
        },
        (error) => log.error(errorFields(error), 'certificate change ignored, keeping the running one'),
      );
      stops.push(() => tlsWatcher.close());
    }
    if (options.dev) {
      const vite = await (await import('vite')).createServer({
        configFile: resolve(projectRoot, 'client/vite.config.ts'),
        server: { middlewareMode: true, hmr: { server: app.server } },
        appType: 'spa',
      });
      stops.push(() => vite.close());
      viteMiddleware = vite.middlewares;
    }

    const watcher = watchConfig(
      options.configPath,
      (next) => {
        current = next;
        configState = 'valid';
        void services.applyConfig(next).then(() => log.info({ file: next.file, clusters: next.clusters.length }, 'reloaded the config'));
      },
      (error) => {
        configState = 'reload-refused';
        log.error(errorFields(error), 'config change ignored, keeping the running config');
      },
    );
    stops.push(() => watcher.close());

    const url = await app.start(options.port, options.host);
    // Created only once the server listens: a start that fails must not leave a token nobody was shown.
    let firstToken: { name: string; token: string } | undefined;
    if (plan.createFirstToken) {
      try {
        firstToken = { name: 'phone', token: (await services.tokens.create('phone', { userId: (await services.users.firstAdmin()).id })).token };
      } catch (error) {
        // The CLI created it meanwhile: its user has the token.
        if (!(error instanceof ValidationError)) throw error;
      }
    }
    services.clusters.warmUp();
    // Launches left between storing and sbatch's answer (by the last shutdown, or a connection lost during sbatch):
    // adopted by their tag or marked failed; at start, then every minute, as their clusters become reachable.
    const recoverSubmissions = async () => {
      try {
        const count = await services.jobs.recoverSubmissions();
        if (count > 0) log.info({ count }, 'looked up interrupted launches');
      } catch (error) {
        log.error(errorFields(error), 'could not look up interrupted launches');
      }
    };
    // The loops that write what the clusters say run on one replica at a time, the leader (an embedded server is
    // always its own). Launches, cancels, reads and subscriptions work on every replica. The loops also stop with
    // services.close(), already on the stack.
    let recovery: Cron | null = null;
    const startLeading = async () => {
      role = 'leader';
      // Before the poller, so no job end it finds goes unannounced; makes the VAPID keys on the first start ever.
      await services.notify.start();
      services.sweeps.start();
      services.poller.start();
      await services.lifecycle.start();
      // Jobs launched elsewhere, for the usage figures: each cluster once a day (and soon after the first start).
      services.usage.start();
      void recoverSubmissions();
      recovery = new Cron('30 * * * * *', { protect: true }, recoverSubmissions);
    };
    // Stopped for good: the loops cannot start again in this process (a replica that lost its lock is replaced).
    const stopLeading = async (reason: string) => {
      if (role !== 'leader') return;
      role = reason === 'stopped' ? 'follower' : 'lost';
      recovery?.stop();
      await services.usage.stop();
      services.lifecycle.stop();
      await services.poller.stop();
      await services.sweeps.stop();
      await services.notify.stop();
      if (role === 'lost') {
        log.error({ reason }, 'lost the leadership of the replicas: background loops stopped; this replica must be restarted');
        options.onLeadershipLost?.(reason);
      }
    };
    leader = leaderLockFor(target, { retryMs: LEADER_RETRY_MS, onAcquired: startLeading, onLost: stopLeading });
    // Pushed last, so stopped first: the loops end before the lock is freed for another replica.
    stops.push(() => leader!.stop());
    await leader.start();
    if (role === 'follower') log.info('a follower: another replica leads (polls and notifies); this one serves the API');
    return {
      url,
      app,
      services,
      /** What to tell the user about access: a new token's pairing link and QR code (first start), or how to make one. */
      accessNotice: await accessNotice({ required: plan.required, firstToken }, { ...access, url }),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** Ctrl-C or a service manager's SIGTERM closes connections and the database cleanly. */
export function stopOnSignals(running: { stop(): Promise<void> }): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log.info({ signal }, 'shutting down');
      void running.stop().then(() => process.exit(0));
    });
  }
}

async function main(): Promise<void> {
  let running: Awaited<ReturnType<typeof startServer>>;
  try {
    const options = optionsFromArgs(process.argv.slice(2));
    // A replica that lost the lead exits for its service manager to start it again, as a follower.
    running = await startServer({ ...options, onLeadershipLost: () => void running.stop().then(() => process.exit(1)) });
    log.info({ url: running.url, config: options.configPath }, 'listening');
    // For the person who started it, not the log: a first start's pairing link holds a token, which the log would
    // (rightly) redact, and a QR code is no log line.
    process.stdout.write(`Mission Control is running at ${running.url}  (config: ${options.configPath})\n\n${running.accessNotice}\n\n`);
  } catch (error) {
    // A start refused (bad config, unusable database, port taken) is told like any command's error: one line on
    // stderr and exit status 2; the server never ran, so there is no log to write it to.
    if (error instanceof ConfigError || error instanceof DatabaseUnusableError) {
      process.stderr.write(`error: ${error.message}\n`);
      process.exit(2);
    }
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      process.stderr.write(`error: ${(error as Error).message.replace(/^listen /, '')}: another process has this port (choose one with --port or MC_PORT)\n`);
      process.exit(2);
    }
    throw error;
  }
  stopOnSignals(running);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
