// Entry point: `npm start` (built PWA) or `npm run dev` (Vite middleware, GraphiQL).
import { appendFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Cron } from 'croner';
import { createApp, type Middleware } from './http/app.js';
import { readTlsPair, watchTlsFiles } from './http/tls.js';
import { accessNotice, planAccess } from './access/pairing.js';
import { defaultConfigPath, defaultServerConfig, loadConfig, watchConfig } from './config.js';
import { initOrm } from './db/orm.js';
import { ConfigError, DatabaseFileError, ValidationError } from './errors.js';
import type { JobServiceOptions } from './jobs/service.js';
import { createServices } from './services.js';

export interface ServerOptions {
  configPath: string;
  dataDir: string;
  port: number;
  host: string;
  dev: boolean;
  /** The built PWA; defaults to client/dist. */
  staticDir?: string;
}

const projectRoot = fileURLToPath(new URL('..', import.meta.url));

export function optionsFromArgs(argv: string[]): ServerOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      'data-dir': { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      dev: { type: 'boolean', default: false },
    },
  });
  const port = Number(values.port ?? process.env.MC_PORT ?? 4000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`--port: not a TCP port: ${values.port ?? process.env.MC_PORT}`);
  return {
    configPath: values.config ? resolve(values.config) : defaultConfigPath(),
    dataDir: resolve(values['data-dir'] ?? process.env.MC_DATA_DIR ?? 'data'),
    port,
    host: values.host ?? process.env.MC_HOST ?? '127.0.0.1',
    dev: values.dev,
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
  const tlsFiles = config.server?.tls;
  // Before anything opens: a certificate that cannot serve stops the start with its file named.
  const tls = tlsFiles ? readTlsPair(tlsFiles) : undefined;
  const stops: Array<() => unknown> = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  try {
    const orm = await initOrm(resolve(options.dataDir, 'mission-control.sqlite'));
    stops.push(() => orm.close());
    const services = createServices({
      orm,
      config,
      // Fault injection for the crash-safety tests: die exactly between sbatch's answer and saving the job's id.
      jobs: { ...(process.env.MC_FAULT === 'kill-after-sbatch' ? { afterSbatch: () => void process.kill(process.pid, 'SIGKILL') } : {}), ...submitTrace(process.env) },
    });
    stops.push(() => services.close());
    // Server settings are read at start only: who may connect does not change under a running server.
    const access = { server: config.server ?? defaultServerConfig, host: options.host, configPath: options.configPath, dataDir: options.dataDir };
    const plan = await planAccess(services.tokens, access);

    let viteMiddleware: Middleware | undefined;
    const builtClient = options.staticDir ?? resolve(projectRoot, 'client/dist');
    const staticDir = !options.dev && existsSync(resolve(builtClient, 'index.html')) ? builtClient : undefined;
    if (!options.dev && !staticDir) console.warn('client/dist is missing: serving the API only (run `npm run build` for the app)');
    const app = createApp({
      services,
      graphiql: options.dev,
      staticDir,
      tls,
      access: { allowWithoutToken: !plan.required, corsOrigins: access.server.corsOrigins },
      // Vite is created after the app because its HMR socket attaches to the app's HTTP server.
      clientMiddleware: options.dev ? (req, res, next) => viteMiddleware?.(req, res, next) : undefined,
    });
    stops.push(() => app.stop());
    if (tlsFiles) {
      const tlsWatcher = watchTlsFiles(
        tlsFiles,
        (pair) => {
          app.setTls(pair);
          console.log(`reloaded the certificate ${tlsFiles.certFile}`);
        },
        (error) => console.error(`certificate change ignored, keeping the running one: ${error.message}`),
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
        void services.applyConfig(next).then(() => console.log(`reloaded ${next.file}: ${next.clusters.length} cluster(s)`));
      },
      (error) => console.error(`config change ignored, keeping the running config: ${error.message}`),
    );
    stops.push(() => watcher.close());

    const url = await app.start(options.port, options.host);
    // Created only once the server listens: a start that fails must not leave a token nobody was shown.
    let firstToken: { name: string; token: string } | undefined;
    if (plan.createFirstToken) {
      try {
        firstToken = { name: 'phone', token: (await services.tokens.create('phone')).token };
      } catch (error) {
        // The CLI created it meanwhile: its user has the token.
        if (!(error instanceof ValidationError)) throw error;
      }
    }
    // The background loops stop with services.close(), already on the stack.
    services.clusters.warmUp();
    // Before the poller, so no job end it finds goes unannounced; makes the VAPID keys on the first start ever.
    await services.notify.start();
    services.sweeps.start();
    services.poller.start();
    await services.lifecycle.start();
    // Jobs launched elsewhere, for the usage figures: each cluster once a day (and soon after the first start).
    services.usage.start();
    // Launches left between storing and sbatch's answer (by the last shutdown, or a connection lost during sbatch):
    // adopted by their tag or marked failed; at start, then every minute, as their clusters become reachable.
    const recoverSubmissions = async () => {
      try {
        const count = await services.jobs.recoverSubmissions();
        if (count > 0) console.log(`looked up ${count} interrupted launch(es)`);
      } catch (error) {
        console.error(`could not look up interrupted launches: ${(error as Error).message}`);
      }
    };
    void recoverSubmissions();
    const recovery = new Cron('30 * * * * *', { protect: true }, recoverSubmissions);
    stops.push(() => recovery.stop());
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
      console.log(`${signal}: shutting down`);
      void running.stop().then(() => process.exit(0));
    });
  }
}

async function main(): Promise<void> {
  let running: Awaited<ReturnType<typeof startServer>>;
  try {
    const options = optionsFromArgs(process.argv.slice(2));
    running = await startServer(options);
    console.log(`Mission Control is running at ${running.url}  (config: ${options.configPath})`);
    console.log(`\n${running.accessNotice}\n`);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof DatabaseFileError) {
      console.error(`error: ${error.message}`);
      process.exit(2);
    }
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      console.error(`error: ${(error as Error).message.replace(/^listen /, '')}: another process has this port (choose one with --port or MC_PORT)`);
      process.exit(2);
    }
    throw error;
  }
  stopOnSignals(running);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
