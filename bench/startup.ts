// Cold start and idle cost of the production start: the time from spawning the start command to the first answered
// request (a fresh data directory each time, and restarts on one whose migrations are applied), and the server's
// resident memory once it has settled with three clusters configured and a job tracked on each.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { Bench } from './bench.js';
import { requireLab } from './lab-server.js';
import { createJobRow, labRun, median, ms, RUN_ID, sleep } from './support.js';
import { initOrm } from '../server/db/orm.js';
import { freePort } from '../test/free-port.js';
import { labClusterEntry, type Lab } from '../test/lab/lab-env.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * The production start: package.json's `start` script (`npm start`), so that when the start changes (compiled JS) this
 * bench measures the new one. It is spawned as node itself, without npm in front (npm's own start is measured once
 * beside it): what a service manager runs.
 */
function startScript(checkout: string): string {
  const script = (JSON.parse(readFileSync(join(checkout, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  if (!/^node\s/.test(script)) throw new Error(`${checkout}/package.json's start script is not a node command line: ${script}`);
  // A compiled start runs what the checkout's own build:server makes: built here, so no stale bundle is measured.
  if (/\bdist\//.test(script)) execFileSync('npm', ['run', '--silent', 'build:server'], { cwd: checkout, stdio: 'inherit' });
  return script;
}
const startCommand = (script: string) => [process.execPath, ...script.split(/\s+/).slice(1)];
const START_SCRIPT = startScript(root);
const START_COMMAND = startCommand(START_SCRIPT);
/**
 * Another checkout (the code before a change, or a compiled build) whose start is timed beside this one's, the two
 * alternating, so that both see the same load: MC_BENCH_STARTUP_COMPARE=/path/to/checkout.
 */
const COMPARE_WITH = process.env.MC_BENCH_STARTUP_COMPARE;

const COLD_STARTS = Number(process.env.MC_BENCH_STARTUP_COLD ?? 5);
const WARM_STARTS = Number(process.env.MC_BENCH_STARTUP_WARM ?? 3);
// V8 gives memory back in steps once the process is idle (after 10 to 50 s in the runs here): 60 s sees it settle.
const IDLE_SECONDS = Number(process.env.MC_BENCH_STARTUP_IDLE_S ?? 60);
const FIRST_ANSWER_GOAL_MS = 1500;
const IDLE_RSS_GOAL_MB = 120;
/** How often the bench asks for `/` while the server is starting: a refused connection costs microseconds. */
const POLL_EVERY_MS = 5;
/** A documentation address (TEST-NET-3, RFC 5737): never a real login node. */
const UNREACHABLE_HOST = '203.0.113.1';

/** The first list Home shows: on a visit after the first, the service worker serves the shell and this is the first request that reaches the server. */
const FIRST_DATA_QUERY = '{ jobs(first: 60, filter: { archived: false }) { nodes { id state } } }';

interface Start {
  /** From spawn to the first 200 answer to `GET /` (the app's shell, index.html). */
  shellMs: number;
  /** From spawn to the answer of the first data query, sent right after the shell answered. */
  dataMs: number;
  /** From spawn to the "is running" line: background loops started, the start complete. */
  readyMs: number;
  /** VmRSS when the shell first answered (NaN through npm). */
  rssAtAnswer: number;
}

function httpGet(port: number, path: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: body ? 'POST' : 'GET', headers: body ? { 'content-type': 'application/json' } : {}, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** What the OS charges the process (kB → bytes), from /proc/<pid>/status. */
function procStatus(pid: number): { rss: number; hwm: number; anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: field('VmRSS'), hwm: field('VmHWM'), anon: field('RssAnon'), file: field('RssFile') };
}

const mb = (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / 2 ** 20).toFixed(1)} MB` : 'n/a');

interface Running {
  child: ChildProcess;
  start: Start;
  output: () => string;
}

/**
 * Spawns the start command and asks for `/` every few ms until it answers, then for the first data. `argv` is the
 * whole command line; `env` is added to the bench's environment.
 */
async function startOnce(argv: string[], configPath: string, dataDir: string, env: NodeJS.ProcessEnv = {}, cwd = root): Promise<Running> {
  const port = await freePort();
  const began = performance.now();
  const [command, ...args] = argv;
  const child = spawn(command!, [...args, '--config', configPath, '--data-dir', dataDir, '--port', String(port), '--host', '127.0.0.1'], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so npm's shell and the server under it are stopped together.
    detached: true,
  });
  let output = '';
  let readyMs = Number.NaN;
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
    if (Number.isNaN(readyMs) && output.includes('Mission Control is running at')) readyMs = performance.now() - began;
  });
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  let shellMs = Number.NaN;
  for (;;) {
    if (exited !== undefined) throw new Error(`the server exited (${exited}) before answering: ${output.slice(-2000)}`);
    if (performance.now() - began > 60_000) throw new Error(`the server did not answer within 60 s: ${output.slice(-2000)}`);
    try {
      const answer = await httpGet(port, '/');
      if (answer.status !== 200 || !answer.text.includes('<html')) throw new Error(`GET / answered ${answer.status}: ${answer.text.slice(0, 300)}`);
      shellMs = performance.now() - began;
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ECONNREFUSED') throw error;
      await sleep(POLL_EVERY_MS);
    }
  }
  // Under npm the spawned process is npm's, not the server's.
  const rssAtAnswer = command === process.execPath ? procStatus(child.pid!).rss : Number.NaN;
  const data = await httpGet(port, '/graphql', JSON.stringify({ query: FIRST_DATA_QUERY }));
  const dataMs = performance.now() - began;
  if (data.status !== 200 || !data.text.includes('"nodes"')) throw new Error(`the first data query answered ${data.status}: ${data.text.slice(0, 300)}`);
  for (let waited = 0; Number.isNaN(readyMs); waited += 10) {
    if (waited > 60_000) throw new Error(`the server never said it was running: ${output.slice(-2000)}`);
    await sleep(10);
  }
  return { child, start: { shellMs, dataMs, readyMs, rssAtAnswer }, output: () => output };
}

/** SIGTERM to the group (as a service manager stops it), and wait until it has exited. */
async function stop(running: Running): Promise<void> {
  const { child } = running;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(-child.pid!, 'SIGTERM');
  const killer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 30_000);
  await exited;
  clearTimeout(killer);
}

async function timedStart(argv: string[], configPath: string, dataDir: string, env?: NodeJS.ProcessEnv, cwd?: string): Promise<Start> {
  const running = await startOnce(argv, configPath, dataDir, env, cwd);
  await stop(running);
  return running.start;
}

/** Three clusters: the lab, the lab again under a second name, and one at an address where no login node answers. */
function writeConfig(dir: string, lab: Lab): string {
  const path = join(dir, 'clusters.yaml');
  const entry = labClusterEntry(lab);
  writeFileSync(
    path,
    stringify({
      // Loopback without tokens, so the bench's requests need none (a token would not change the start's work).
      server: { auth: { allowLoopbackWithoutToken: true } },
      clusters: { lab: entry, lab2: entry, unreachable: { ...entry, host: UNREACHABLE_HOST, port: 22 } },
    }),
  );
  return path;
}

/** One running job on the lab, recorded as RUNNING under each cluster's name, so that every cluster has a job to poll and watch. */
async function trackJobs(dataDir: string, slurmJobId: string): Promise<void> {
  const orm = await initOrm(join(dataDir, 'mission-control.sqlite'));
  try {
    const em = orm.em.fork();
    for (const cluster of ['lab', 'lab2', 'unreachable']) createJobRow(em, { cluster, state: 'RUNNING', slurmJobId });
    await em.flush();
  } finally {
    await orm.close();
  }
}

/** bench/api.ts's 100,000 jobs, all ended (so that the restart polls nothing): a server used for a long time. */
async function fillWithJobs(dataDir: string): Promise<number | null> {
  // Read loosely: the API bench's rows are exported by a change made beside this bench; without them the row is left out.
  const { INSERT: insertJobs, SCRIPT: script } = (await import('./api.js')) as unknown as { INSERT?: string; SCRIPT?: string };
  if (!insertJobs || !script) return null;
  const file = join(dataDir, 'mission-control.sqlite');
  mkdirSync(dataDir, { recursive: true });
  const orm = await initOrm(file);
  try {
    const connection = orm.em.getConnection();
    await connection.execute(insertJobs, [script]);
    await connection.execute(`update job set state = 'COMPLETED', slurm_state = 'COMPLETED', reason = null where state in ('RUNNING', 'PENDING')`);
  } finally {
    await orm.close();
  }
  return statSync(file).size;
}

const list = (values: number[]) => values.map((value) => ms(value)).join(', ');
const stats = (values: number[]) => `${ms(median(values))} / ${ms(Math.max(...values))}`;

const bench: Bench = {
  title: 'Cold start and idle cost (production start, 3 clusters)',
  async run() {
    const lab = requireLab();
    const dir = mkdtempSync(join(tmpdir(), 'mc-bench-startup-'));
    const configPath = writeConfig(dir, lab);
    const jobName = `${RUN_ID}-startup`;
    try {
      // A start after an install or an update: tsx's transform cache (under TMPDIR) is empty, every file is compiled.
      const emptyCache = await timedStart(START_COMMAND, configPath, join(dir, 'data-empty-cache'), { TMPDIR: mkdtempSync(join(dir, 'tmp-')) });

      const cold: Start[] = [];
      for (let run = 0; run < COLD_STARTS; run++) cold.push(await timedStart(START_COMMAND, configPath, join(dir, `data-cold-${run}`)));

      const dataDir = join(dir, `data-cold-${COLD_STARTS - 1}`);
      const slurmJobId = (await labRun(lab, `sbatch --parsable -J ${jobName} -p cpu --mem=10M --time=10 -o /dev/null --wrap='sleep 600'`)).trim().split(';')[0]!;
      await trackJobs(dataDir, slurmJobId);

      const warm: Start[] = [];
      for (let run = 0; run < WARM_STARTS - 1; run++) warm.push(await timedStart(START_COMMAND, configPath, dataDir));
      // The last warm start stays up: its idle memory.
      const running = await startOnce(START_COMMAND, configPath, dataDir);
      warm.push(running.start);
      const samples: Array<{ at: number; rss: number }> = [];
      const pid = running.child.pid!;
      for (let second = 1; second <= IDLE_SECONDS; second++) {
        await sleep(1000);
        samples.push({ at: second, rss: procStatus(pid).rss });
      }
      const idle = procStatus(pid);
      const serverLog = running.output();
      await stop(running);

      const bigDir = join(dir, 'data-100k');
      const bigBytes = await fillWithJobs(bigDir);
      const big: Start[] = [];
      for (let run = 0; bigBytes !== null && run < WARM_STARTS; run++) big.push(await timedStart(START_COMMAND, configPath, bigDir));

      // This checkout and the other one in turn, each on its own fresh data directory, then restarted on it.
      const compared = { here: { cold: [] as Start[], warm: [] as Start[] }, there: { cold: [] as Start[], warm: [] as Start[] } };
      if (COMPARE_WITH) {
        const other = startCommand(startScript(COMPARE_WITH));
        for (let run = 0; run < COLD_STARTS; run++) {
          for (const side of run % 2 ? (['there', 'here'] as const) : (['here', 'there'] as const)) {
            const [argv, cwd] = side === 'here' ? [START_COMMAND, root] : [other, COMPARE_WITH];
            const sideDir = join(dir, `data-compare-${side}-${run}`);
            compared[side].cold.push(await timedStart(argv, configPath, sideDir, {}, cwd));
            compared[side].warm.push(await timedStart(argv, configPath, sideDir, {}, cwd));
          }
        }
      }

      const viaNpm = await timedStart(['npm', 'start', '--'], configPath, join(dir, 'data-npm'));

      const shell = cold.map((start) => start.shellMs);
      const data = cold.map((start) => start.dataMs);
      const shown = samples.filter((sample) => [1, 5].includes(sample.at) || sample.at % 10 === 0);
      const lastTen = samples.slice(-10).map((sample) => sample.rss);
      const row = (what: string, starts: Start[]) => [
        what,
        starts.length,
        list(starts.map((start) => start.shellMs)),
        stats(starts.map((start) => start.shellMs)),
        stats(starts.map((start) => start.dataMs)),
        stats(starts.map((start) => start.readyMs)),
        mb(median(starts.map((start) => start.rssAtAnswer))),
      ];
      return {
        figures: [
          {
            label: `spawn → first answer (GET /, the app's shell), cold: fresh data dir, median / max of ${COLD_STARTS}`,
            value: stats(shell),
            goal: `< ${FIRST_ANSWER_GOAL_MS} ms`,
            met: Math.max(...shell) < FIRST_ANSWER_GOAL_MS,
          },
          { label: 'spawn → first data (Home\'s recent-jobs list over GraphQL, sent after the shell answered), cold, median / max', value: stats(data), goal: `< ${FIRST_ANSWER_GOAL_MS} ms`, met: Math.max(...data) < FIRST_ANSWER_GOAL_MS },
          { label: `spawn → first answer, warm restart (migrations applied, 3 jobs tracked), median / max of ${WARM_STARTS}`, value: stats(warm.map((start) => start.shellMs)) },
          {
            label: `idle RSS (VmRSS) after ${IDLE_SECONDS} s, 3 clusters configured, one job tracked on each`,
            value: `${mb(idle.rss)} (anonymous ${mb(idle.anon)}, files ${mb(idle.file)}; last 10 s ${mb(Math.min(...lastTen))} – ${mb(Math.max(...lastTen))}; peak ${mb(idle.hwm)})`,
            goal: `< ${IDLE_RSS_GOAL_MB} MB`,
            met: idle.rss < IDLE_RSS_GOAL_MB * 2 ** 20,
          },
        ],
        tables: [
          {
            columns: ['start', 'runs', 'spawn → GET / answered, each', 'GET / median / max', 'first data median / max', '"is running" logged, median / max', 'RSS at first answer (median)'],
            rows: [
              row('cold: fresh data dir (migrations run)', cold),
              row('warm restart: migrated data dir, 3 jobs tracked', warm),
              ...(bigBytes === null ? [] : [row(`warm restart: 100,000 jobs (${mb(bigBytes)} database)`, big)]),
              row("cold, tsx's transform cache empty (first start after an install or update)", [emptyCache]),
              row('cold, through `npm start` (npm in front)', [viaNpm]),
              ...(COMPARE_WITH
                ? [
                    row(`cold, this checkout, alternating with ${COMPARE_WITH}`, compared.here.cold),
                    row(`cold, ${COMPARE_WITH} (\`${startScript(COMPARE_WITH)}\`), alternating`, compared.there.cold),
                    row('warm restart (no job), this checkout, alternating', compared.here.warm),
                    row(`warm restart (no job), ${COMPARE_WITH}, alternating`, compared.there.warm),
                  ]
                : []),
            ],
          },
          {
            columns: ['idle', ...shown.map((sample) => `${sample.at} s`)],
            rows: [['VmRSS', ...shown.map((sample) => mb(sample.rss))]],
          },
        ],
        notes: [
          `Start command: \`${START_SCRIPT}\` (package.json's start script, spawned as node without npm; \`npm start\` once for comparison), with \`--config --data-dir --port --host 127.0.0.1\`; its working directory the checkout. The built app (client/dist) is served.`,
          `First answer: \`GET /\` asked every ${POLL_EVERY_MS} ms from the spawn until it answers 200 with the app's index.html, the first request a phone's browser sends. Then, at once, Home's first list (\`${FIRST_DATA_QUERY}\`) over HTTP: on later visits the service worker serves the shell from its cache, and this is the first request that reaches the server. "Is running" is the line the server prints once everything has started (cluster checks begun, notifier, poller, lifecycle watcher), after it already answers.`,
          `Clusters: lab, lab2 (the lab again) and unreachable (${UNREACHABLE_HOST}:22, a documentation address; on this machine's network a TCP connection there is accepted and never answered, so the server sees what a hung login node does: a handshake timeout, then backoff). Warm restarts and the idle server track one running lab job (\`sleep 600\`) recorded under each cluster's name, so the poller and the lifecycle watcher are at work for all three.`,
          `Memory is VmRSS from /proc/<pid>/status, as the OS charges it (no forced GC: a normal start cannot); "files" is RssFile (the node binary and libraries, partly shared with other processes), "anonymous" RssAnon (heaps). Samples every second while idle, with no request.`,
          ...(bigBytes === null ? ["The 100,000-job restart was left out: bench/api.ts does not export its INSERT and SCRIPT."] : []),
          `Each cold start uses a new data directory (the database created and every migration run); tsx's transform cache is warm except in its own row. Times include the bench's own polling on a shared 2-core machine.`,
          `Server log of the idle run (first lines): ${serverLog.split('\n').filter(Boolean).slice(0, 4).join(' · ').slice(0, 600)}`,
        ],
      };
    } finally {
      await labRun(lab, `scancel -u ${lab.user} -n ${jobName}`).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export default bench;
