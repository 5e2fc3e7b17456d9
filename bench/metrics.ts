// Training curves at scale (issue 16). First the reading: 100 "running jobs" on the lab whose output.log one writer
// process appends 10 metric values a second to (half as `step=N loss=…` lines, half as tqdm bar redraws), read by the
// real lifecycle watcher (one long-running remote command per cluster) and metrics service over the real ssh2
// transport, through a counting transport and a counting TCP proxy: remote commands, bytes, points stored, server CPU
// per point, delay from a line written to its point stored. Then the series read: Job.metrics(maxPoints: 500) over a
// 100,000-point series and one at the stored bound, through the app in-process, with where the time goes.
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bench, Figure } from './bench.js';
import { kB, percentile } from './bench.js';
import { requireLab } from './lab-server.js';
import { countingProxy, createJobRow, labRun, loadAverage, meteredTransport, ms, OWNER_ID, RUN_ID, sleep, timed } from './support.js';
import { createApp } from '../server/http/app.js';
import { initOrm } from '../server/db/orm.js';
import { MetricSource } from '../server/db/entities.js';
import { downsample } from '../server/metrics/downsample.js';
import { SERIES_BOUND, readSeries } from '../server/metrics/service.js';
import { candidatesOf, createSummaries, readBuckets } from '../server/metrics/summary.js';
import { createServices } from '../server/services.js';
import { jobDirOf, jobPaths } from '../server/slurm/layout.js';
import { createSsh2Transport } from '../server/ssh/ssh2-transport.js';
import type { StreamingTransport } from '../server/ssh/transport.js';
import { labClusterConfig } from '../test/lab/lab-env.js';

const JOBS = Number(process.env.MC_BENCH_METRICS_JOBS ?? 100);
/** Each job writes a record this often, with METRICS_PER_RECORD values: 10 points a second. */
const RECORD_PERIOD_S = 0.5;
const METRICS_PER_RECORD = 5;
const WARMUP_MS = 12_000;
const WINDOW_MS = Number(process.env.MC_BENCH_METRICS_WINDOW_S ?? 60) * 1000;
/** The writer ends itself after this long, should the bench die before it stops it. */
const WRITER_MAX_S = 300;
const COMMANDS_GOAL = 1;

const SERIES_LEVELS = [100_000, SERIES_BOUND];
const REQUESTS = 300;
const WARMUP_REQUESTS = 30;
/** The layers of the breakdown are timed fewer times: at 100,000 points each call takes tens of ms. */
const LAYER_REQUESTS = 30;
const MAX_POINTS = 500;
const P99_GOAL_MS = 20;

// For comparison only (the read before series were summarised): every stored point of the series.
const EVERY_POINT = 'select step, value, time from metric_point where job_id = ? and name = ? order by step, id';

const SERIES_QUERY = `query($id: Int!) { job(id: $id) { __typename ... on QueryJobSuccess { data { metrics(names: ["loss"], maxPoints: ${MAX_POINTS}) { points { step value } } } } } }`;

// One process writes every job's log: even jobs `step=N loss=… acc=… lr=… grad_norm=… stamp=…` lines, odd ones a
// tqdm bar redrawn after '\r' (`Epoch E:  45%|████      | 45/100 [00:22<00:27, 2.00it/s, loss=…, stamp=…]`, a newline
// at the end of each epoch of 100). Every value changes at every record (the log parser makes no point of a bar value
// whose text did not change). `stamp` is the time the record was written (the host's clock: the lab runs on this
// machine). On SIGTERM it ends the bars' last lines, as tqdm closes a bar, and writes how many records each job got.
const WRITER = `import math, os, random, signal, sys, time
count_file, max_seconds, period = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
fds = [os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) for path in sys.argv[4:]]
stopping = []
signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
rng = random.Random(16)
start = time.time()
tick = 0
while not stopping and time.time() - start < max_seconds:
    delay = start + tick * period - time.time()
    if delay > 0:
        time.sleep(delay)
    if stopping:
        break
    step = tick + 1
    epoch, n = divmod(tick, 100)
    n += 1
    for index, fd in enumerate(fds):
        loss = 2.5 / (1 + step / 200) + rng.random() * 0.05
        values = (loss, 1 - loss / 3 + rng.random() * 0.01, 1e-3 * (1 - step / 1e5), 1 + rng.random(), time.time())
        if index % 2 == 0:
            text = 'step=%d loss=%.6f acc=%.6f lr=%.6e grad_norm=%.6f stamp=%.3f\\n' % ((step,) + values)
        else:
            bar = '\\u2588' * (n // 10) + ' ' * (10 - n // 10)
            text = '\\rEpoch %d: %3d%%|%s| %d/100 [00:%02d<00:%02d, %.2fit/s, loss=%.6f, acc=%.6f, lr=%.6e, grad_norm=%.6f, stamp=%.3f]' % ((epoch, n, bar, n, n // 2 % 60, (100 - n) // 2 % 60, 1 / period) + values)
            if n == 100:
                text += '\\n'
        os.write(fd, text.encode())
    tick += 1
for index, fd in enumerate(fds):
    if index % 2 == 1:
        os.write(fd, b'\\n')
with open(count_file + '.tmp', 'w') as out:
    out.write(str(tick))
os.rename(count_file + '.tmp', count_file)
`;

/** A transport that also counts the long-running commands open now and the watch's rounds (its `.` lines). */
function watchCounting(inner: StreamingTransport) {
  const counts = { open: 0, mostOpen: 0, rounds: 0 };
  const transport: StreamingTransport = {
    ...inner,
    async stream(argv, options) {
      let tail = '';
      const handle = await inner.stream(argv, {
        ...options,
        onStdout: (chunk) => {
          // A round ends with a line holding only '.'; the last two characters carry a line end across chunks.
          const text = tail + chunk;
          counts.rounds += text.match(/\n\.\n/g)?.length ?? 0;
          tail = text.slice(-2);
          options.onStdout(chunk);
        },
      });
      counts.open++;
      counts.mostOpen = Math.max(counts.mostOpen, counts.open);
      void handle.done.then(() => counts.open--);
      return handle;
    },
  };
  return { transport, counts };
}


/** The first time in the sorted `times` at or after `at`. */
function firstAtOrAfter(times: number[], at: number): number | undefined {
  let low = 0;
  let high = times.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (times[middle]! < at) low = middle + 1;
    else high = middle;
  }
  return times[low];
}

const bench: Bench = {
  title: 'Training curves: 100 running jobs read over one command, and a 100,000-point series',
  async run() {
    const lab = requireLab();
    const began = Date.now();
    const proxy = await countingProxy(lab.host, lab.port);
    const config = labClusterConfig(lab, { port: proxy.port, hostKeyFingerprint: lab.hostKeyFingerprint });
    const metered = meteredTransport(createSsh2Transport(config));
    const watching = watchCounting(metered.transport);
    // A file database, as the server keeps one (WAL): inserts cost what they cost in production.
    const dir = mkdtempSync(join(tmpdir(), 'mc-bench-metrics-'));
    const orm = await initOrm(join(dir, 'mission-control.sqlite'));
    const services = createServices({ orm, config: { file: 'bench', clusters: [config] }, clusters: { transportFactory: () => watching.transport } });
    const app = createApp({ services, access: { allowWithoutToken: true } });
    const home = (await labRun(lab, 'printf %s "$HOME"')).trim();
    const base = `${home}/${RUN_ID}`;
    const countFile = `${base}/written`;
    const figures: Figure[] = [];
    const tables: Array<{ columns: string[]; rows: Array<Array<string | number>> }> = [];
    const notes: string[] = [];
    let writerPid: string | null = null;
    // The metrics:updated announcements, per job: when each arrived (after its points were committed).
    const announced = new Map<number, number[]>();
    const announcements = services.events.subscribe('metrics:updated');
    void (async () => {
      for await (const { jobId } of announcements) announced.get(jobId)?.push(Date.now());
    })();

    try {
      // ---- 1. Reading at scale ----
      const em = orm.em.fork();
      const jobs = Array.from({ length: JOBS }, (_, index) => {
        const dir = jobDirOf(base, randomBytes(6).toString('hex'));
        // Fake SLURM ids: nothing polls these jobs (the poller is not started), only the watch reads their files.
        return createJobRow(em, { cluster: 'lab', state: 'RUNNING', slurmJobId: String(990_000 + index), jobDir: dir });
      });
      await em.flush();
      for (const job of jobs) announced.set(job.id, []);
      const ids = jobs.map((job) => job.id);
      const idList = ids.join(',');

      // The jobs' directories with their `started` event (as the job script writes it), and the writer.
      await labRun(lab, `sh -c 'mkdir -p "$@" && for events do printf "%s gpu-a100 0\\n" "$(date +%s)" > "$events/started"; done' sh ${jobs.map((job) => jobPaths(job.jobDir).events).join(' ')}`);
      await labRun(lab, `cat > ${base}/writer.py`, { stdin: WRITER });
      writerPid = (
        await labRun(lab, `cd ${base} || exit 1; nohup python3 writer.py ${countFile} ${WRITER_MAX_S} ${RECORD_PERIOD_S} ${jobs.map((job) => jobPaths(job.jobDir).output).join(' ')} >/dev/null 2>&1 </dev/null & echo $!`)
      ).trim();
      if (!/^\d+$/.test(writerPid)) throw new Error(`the writer did not start: ${writerPid}`);

      // The connection open first, as the running server has it; then the real watcher (the poller is not started).
      await services.clusters.testConnection('lab', OWNER_ID);
      await services.notify.start();
      metered.take();
      await proxy.take();
      await services.lifecycle.start();
      const watchStarted = Date.now();
      await sleep(WARMUP_MS);

      const labCounts = async () => {
        // The pattern is assembled on the lab, so this command's own line does not match it.
        const out = await labRun(lab, `p=e:0; cat ${jobs.map((job) => jobPaths(job.jobDir).output).join(' ')} | wc -c; for pid in $(pgrep -u "$(id -u)" -f "$p:${base}/"); do awk '{print $14 + $15 + $16 + $17}' /proc/$pid/stat 2>/dev/null; done | awk '{s += $1} END {print s + 0}'; getconf CLK_TCK`);
        const [bytes, ticks, perSecond] = out.trim().split('\n').map(Number);
        return { logBytes: bytes!, cpuMs: (ticks! / perSecond!) * 1000 };
      };
      const storedCount = async () => Number(((await orm.em.getConnection().execute(`select count(*) as n from metric_point where job_id in (${idList})`)) as [{ n: number }])[0].n);

      const warmupTraffic = metered.take();
      const warmupStreams = warmupTraffic.streams;
      const warmupCommands = warmupTraffic.commands;
      await proxy.take();
      const labBefore = await labCounts();
      const roundsBefore = watching.counts.rounds;
      const storedBefore = await storedCount();
      const cpuBefore = process.cpuUsage();
      const windowStart = Date.now();
      const openAtStart = watching.counts.open;
      await sleep(WINDOW_MS);
      const cpu = process.cpuUsage(cpuBefore);
      const windowEnd = Date.now();
      const storedAfter = await storedCount();
      const openAtEnd = watching.counts.open;
      const rounds = watching.counts.rounds - roundsBefore;
      const traffic = metered.take();
      const wire = await proxy.take();
      const labAfter = await labCounts();
      const windowS = (windowEnd - windowStart) / 1000;

      // Stop the writer (it ends the bars' last lines and says how many records it wrote), then let the reading drain.
      const written = Number(
        (await labRun(lab, `kill -TERM ${writerPid}; for i in $(seq 100); do [ -f ${countFile} ] && break; sleep 0.1; done; cat ${countFile}`)).trim(),
      );
      writerPid = null;
      const expected = written * JOBS * METRICS_PER_RECORD;
      let stored = await storedCount();
      for (const deadline = Date.now() + 15_000; stored < expected && Date.now() < deadline; stored = await storedCount()) await sleep(500);

      // Delay from a record written (its stamp) to its point stored: the first announcement for its job after the flush
      // that stored it began (a log point's time is that flush's start).
      const stamps = (await orm.em
        .getConnection()
        .execute(`select job_id, value, time from metric_point where name = 'stamp' and job_id in (${idList}) and value * 1000 between ? and ?`, [windowStart, windowEnd - 1000])) as Array<{ job_id: number; value: number; time: number }>;
      const lineJobs = new Set(ids.filter((_, index) => index % 2 === 0));
      const delays = { line: [] as number[], bar: [] as number[] };
      for (const row of stamps) {
        const storedAt = firstAtOrAfter(announced.get(row.job_id)!, row.time);
        if (storedAt !== undefined) (lineJobs.has(row.job_id) ? delays.line : delays.bar).push(storedAt - row.value * 1000);
      }
      const all = [...delays.line, ...delays.bar];
      services.lifecycle.stop();

      const pointsInWindow = storedAfter - storedBefore;
      const cpuMs = (cpu.user + cpu.system) / 1000;
      const newCommands = traffic.commands + traffic.streams;
      const commandsMet = newCommands === 0 && openAtStart === COMMANDS_GOAL && openAtEnd === COMMANDS_GOAL && watching.counts.mostOpen === COMMANDS_GOAL;
      const fileRounds = rounds / 2;
      figures.push(
        {
          label: `remote commands per cluster per tick, ${JOBS} running jobs`,
          value: `${openAtEnd} (the watch, kept open; ${newCommands} started during the ${windowS.toFixed(0)} s window, ${warmupStreams + warmupCommands} from the watcher's start to the window)`,
          goal: `${COMMANDS_GOAL}`,
          met: commandsMet,
        },
        { label: 'bytes on the SSH wire per second (both ways) / per file round (every 2 s)', value: `${kB(wire.total / windowS)} / ${kB(wire.total / Math.max(1, fileRounds))}` },
        { label: 'points stored per second (written: 10 a second × jobs)', value: `${(pointsInWindow / windowS).toFixed(0)} (written ${((JOBS * METRICS_PER_RECORD) / RECORD_PERIOD_S).toFixed(0)})` },
        { label: 'server CPU per point stored (lifecycle watch + parse + store + announce)', value: `${((cpuMs * 1000) / pointsInWindow).toFixed(1)} µs (${((cpuMs / (windowEnd - windowStart)) * 100).toFixed(1)} % of a core)` },
        { label: 'delay from a record written to its point stored, p50 / p95 (lines; bar redraws)', value: `${ms(percentile(delays.line, 50))} / ${ms(percentile(delays.line, 95))}; ${ms(percentile(delays.bar, 50))} / ${ms(percentile(delays.bar, 95))}` },
        { label: 'points stored of those written, after the writer stopped', value: `${stored.toLocaleString('en')} of ${expected.toLocaleString('en')}`, goal: 'all', met: stored === expected },
      );
      tables.push({
        columns: [`reading ${JOBS} jobs, ${windowS.toFixed(0)} s window after ${WARMUP_MS / 1000} s warm-up`, 'value'],
        rows: [
          ['remote commands open (start / end of window; most ever open at once)', `${openAtStart} / ${openAtEnd}; ${watching.counts.mostOpen}`],
          ['remote commands started in the window (exec / stream)', `${traffic.commands} / ${traffic.streams}`],
          ['watch rounds in the window (one a second plus its own time; files every other round)', `${rounds} (a round every ${ms((windowEnd - windowStart) / Math.max(1, rounds))})`],
          ['bytes appended to the logs on the lab, per second', kB((labAfter.logBytes - labBefore.logBytes) / windowS)],
          ['payload received (the watch\'s stdout, base64), per second', kB(traffic.receivedBytes / windowS)],
          ['SSH wire, down / up, per second', `${kB(wire.down / windowS)} / ${kB(wire.up / windowS)}`],
          ['new SSH connections in the window', wire.connections],
          ['points stored in the window', `${pointsInWindow.toLocaleString('en')} (${(pointsInWindow / windowS).toFixed(0)} a second)`],
          ['server CPU in the window (user + system, this process)', `${(cpuMs / 1000).toFixed(2)} s`],
          ['CPU of the watch on the lab (its shell and the stat/dd/base64 it runs), per second', `${ms(((labAfter.cpuMs - labBefore.cpuMs) / windowS))} (${(((labAfter.cpuMs - labBefore.cpuMs) / (windowEnd - windowStart)) * 100).toFixed(1)} % of a core)`],
          ['delay written → stored, `step=` lines: p50 / p95 / max (points)', `${ms(percentile(delays.line, 50))} / ${ms(percentile(delays.line, 95))} / ${ms(Math.max(...delays.line))} (${delays.line.length})`],
          ['delay written → stored, tqdm bar redraws: p50 / p95 / max (points)', `${ms(percentile(delays.bar, 50))} / ${ms(percentile(delays.bar, 95))} / ${ms(Math.max(...delays.bar))} (${delays.bar.length})`],
          ['delay written → stored, all: p50 / p95', `${ms(percentile(all, 50))} / ${ms(percentile(all, 95))}`],
        ],
      });
      notes.push(
        `Reading: ${JOBS} job rows (RUNNING, a fake SLURM id each, jobDir under ~/${RUN_ID}/jobs/<tag> with its events/started) in a SQLite file; the services of server/services.ts with the lab's cluster config over the real ssh2 transport, through a counting transport (exec and stream calls, payload) and a counting TCP proxy in its own process in front of the lab sshd (wire bytes). Started as startServer starts them (notifier, then the lifecycle watcher), except the poller, which is not started: it would ask SLURM about the fake ids, and what is measured is the reading. The watch started ${((watchStarted - began) / 1000).toFixed(0)} s into the run; measured from ${WARMUP_MS / 1000} s after it (the first rounds catch up with what was written meanwhile) for ${windowS.toFixed(0)} s.`,
        `The writer: one Python process on the lab appending a record every ${RECORD_PERIOD_S * 1000} ms to each job's output.log, ${METRICS_PER_RECORD} values each (loss, acc, lr, grad_norm and the time it was written, stamp): even jobs as \`step=N loss=… stamp=…\` lines, odd ones as a tqdm bar redrawn after '\\r' with the values in its postfix (a newline every 100 iterations). It wrote ${written} records per job; killed at the end, and it ends itself after ${WRITER_MAX_S} s in any case.`,
        'Delay: from the stamp in the record to the first metrics:updated announcement for its job after the flush that stored it (published after the commit). It adds up the watch\'s file rounds (every 2 s: FILE_EVERY = 2 rounds of 1 s plus the round\'s own time), the flush timer (1 s) and the commit. A bar redraw is a complete record only when the next \'\\r\' comes (tqdm writes \'\\r\' before a redraw, not after), so bars wait one redraw more, here ' + `${RECORD_PERIOD_S * 1000} ms.`,
        `CPU: process.cpuUsage of the server process (this one: the bench only counts and sleeps meanwhile) over the window, divided by the points stored in it; the SSH decryption, base64 decoding, parsing, SQLite inserts, the series bound's bookkeeping and the notifier's reaction to metrics:updated included. The lab's figure is the watch's shell and its children as the kernel accounts them (/proc/<pid>/stat utime + stime + cutime + cstime), sshd's encryption not included. Load average (1/5/15 min) after the window: ${loadAverage()}.`,
      );

      // ---- 2. Series read ----
      const rows: Array<Array<string | number>> = [];
      const breakdown: Array<Array<string | number>> = [];
      const knex = orm.em.getConnection().getKnex();
      for (const size of SERIES_LEVELS) {
        const seriesEm = orm.em.fork();
        const job = createJobRow(seriesEm, { cluster: 'lab', state: 'COMPLETED', jobDir: jobDirOf(base, randomBytes(6).toString('hex')) });
        await seriesEm.flush();
        const source = seriesEm.create(MetricSource, { jobId: job.id, path: `${job.jobDir}/metrics.csv`, format: 'csv', offset: 0, state: {}, done: true });
        await seriesEm.flush();
        // Straight into the table, past the service's bound on purpose at 100,000 (the issue asks for that series):
        // a falling loss with noise, and acc beside it as a run logs both.
        const insertStarted = performance.now();
        await orm.em.getConnection().execute(
          `with recursive n(i) as (select 1 union all select i + 1 from n where i < ?)
           insert into metric_point (job_id, source_id, name, step, value, time)
           select ?, ?, name, i, case name when 'loss' then 2.5 / (1 + i / 5000.0) + ((i * 7919) % 1000) / 20000.0 else 1 - 1 / (1 + i / 5000.0) + ((i * 104729) % 1000) / 50000.0 end, 1700000000000 + i * 1000
           from n, (select 'loss' as name union all select 'acc')`,
          [size, job.id, source.id],
        );
        const insertMs = performance.now() - insertStarted;
        // Its summary, as the service keeps it while it writes; built here in one go from the stored points, as for a
        // series stored before summaries existed (the unit property test shows both give the same summary).
        const summaryStarted = performance.now();
        for (const name of ['loss', 'acc']) await orm.em.fork().transactional((tx) => createSummaries().rebuild(tx, job.id, name));
        const summaryMs = (performance.now() - summaryStarted) / 2;

        const request = async () => {
          const response = await app.yoga.fetch('http://bench/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: SERIES_QUERY, variables: { id: job.id } }) });
          return (await response.json()) as { data?: { job: { __typename: string; data?: { metrics: Array<{ points: Array<{ step: number; value: number | null }> }> } } }; errors?: unknown };
        };
        const first = await request();
        const points = first.data?.job.data?.metrics[0]?.points;
        if (points?.length !== MAX_POINTS) throw new Error(`metrics over GraphQL at ${size} points: ${JSON.stringify(first).slice(0, 300)}`);
        const times = await timed(request, REQUESTS, WARMUP_REQUESTS);
        const p99 = percentile(times, 99);
        // The service keeps a drawn series until its next write (as a phone re-reads a chart): the app's answers above
        // come from that after the first. The read itself, from the database every time, is measured on its own.
        const readTimes = await timed(() => readSeries(orm.em.fork(), job.id, 'loss', MAX_POINTS), REQUESTS, WARMUP_REQUESTS);
        const readP99 = percentile(readTimes, 99);
        rows.push([size.toLocaleString('en'), `${insertMs.toFixed(0)} ms`, `${summaryMs.toFixed(0)} ms`, ms(percentile(times, 50)), ms(p99), ms(Math.max(...times)), ms(percentile(readTimes, 50)), ms(readP99)]);
        const label = size === SERIES_LEVELS[0] ? `a ${size.toLocaleString('en')}-point series` : `${size.toLocaleString('en')} points (the stored bound)`;
        figures.push({ label: `metrics(maxPoints: ${MAX_POINTS}) over ${label}, read from the database each time: p99 (p50)`, value: `${ms(readP99)} (${ms(percentile(readTimes, 50))})`, goal: `p99 < ${P99_GOAL_MS} ms`, met: readP99 < P99_GOAL_MS });
        figures.push({ label: `the same through GraphQL in-process, as the app re-reads it (drawn once, kept until the series changes): p99 (p50)`, value: `${ms(p99)} (${ms(percentile(times, 50))})`, goal: `p99 < ${P99_GOAL_MS} ms`, met: p99 < P99_GOAL_MS });

        // Where the time goes: the service's own SQL (caught on its way to SQLite), the rows made into points and
        // downsampled, the whole service call, GraphQL.
        const statements: Array<{ sql: string; bindings: unknown[] }> = [];
        const listen = (query: { sql: string; bindings?: unknown[] }) => statements.push({ sql: query.sql, bindings: query.bindings ?? [] });
        knex.on('query', listen);
        await readSeries(orm.em.fork(), job.id, 'loss', MAX_POINTS);
        knex.off('query', listen);
        const select = statements.findLast((statement) => /from metric_bucket/i.test(statement.sql));
        if (!select) throw new Error(`no select from metric_bucket was seen (${statements.map((statement) => statement.sql).join('; ')})`);
        const connection = orm.em.getConnection();
        const plan = ((await connection.execute(`explain query plan ${select.sql}`, select.bindings as never[])) as Array<{ detail: string }>).map((step) => step.detail).join('; ');
        const spans = await readBuckets(orm.em.fork(), job.id, 'loss');
        const candidates = candidatesOf(spans);
        const layers: Array<[string, () => unknown]> = [
          [`its SQL alone (the summary's ${spans.length.toLocaleString('en')} rows through MikroORM's execute): \`${plan}\``, () => connection.execute(select.sql, select.bindings as never[])],
          [`the summary's ${candidates.length.toLocaleString('en')} kept points downsampled (LTTB) to 500, no SQL`, () => downsample(candidatesOf(spans), MAX_POINTS)],
          ['the metrics service, read from the database: readSeries(em, job, "loss", 500)', () => readSeries(orm.em.fork(), job.id, 'loss', MAX_POINTS)],
          [`for comparison, the read before the summary: every stored point (${size.toLocaleString('en')} rows)`, () => connection.execute(EVERY_POINT, [job.id, 'loss'])],
        ];
        for (const [layer, call] of layers) {
          const layerTimes = await timed(async () => call(), LAYER_REQUESTS, 3);
          breakdown.push([size.toLocaleString('en'), layer, ms(percentile(layerTimes, 50)), ms(percentile(layerTimes, 99))]);
        }
        breakdown.push([size.toLocaleString('en'), 'GraphQL in-process (yoga.fetch), as above', ms(percentile(times, 50)), ms(p99)]);
      }
      tables.push(
        { columns: ['points in the series', 'insert (SQL)', 'summary built', `GraphQL p50 (${REQUESTS} after ${WARMUP_REQUESTS})`, 'p99', 'max', 'read from the database p50', 'p99'], rows },
        { columns: ['points', `where the time goes (${LAYER_REQUESTS} calls after 3)`, 'p50', 'p99'], rows: breakdown },
      );
      notes.push(
        `Series read: a job with a "loss" and an "acc" series of 100,000 points each inserted straight into metric_point with one SQL statement, bypassing the service's bound of ${SERIES_BOUND.toLocaleString('en')} points per series on purpose (the issue asks for a 100,000-point series; the service would have thinned it), then the same at ${SERIES_BOUND.toLocaleString('en')} points, in the database that holds the reading's points too; then each series summarised (metrics/summary.ts: ≤ 1,024 spans of its steps, each keeping its first, last, lowest, highest and first non-finite point), as the service keeps it at write time. The query \`job(id) { metrics(names: ["loss"], maxPoints: ${MAX_POINTS}) { points { step value } } }\` through the app in-process (yoga.fetch, no network), ${REQUESTS} times one after the other after ${WARMUP_REQUESTS} unmeasured; each answer has ${MAX_POINTS} points (checked once).`,
      );
    } finally {
      void announcements.return?.();
      services.lifecycle.stop();
      // By id only: the writer this run started, and the watch shells on this run's paths (they end by themselves
      // at their next write once their channel is closed).
      await labRun(lab, `${writerPid ? `kill ${writerPid} 2>/dev/null;` : ''} p=e:0; for pid in $(pgrep -u "$(id -u)" -f "$p:${base}/"); do kill $pid 2>/dev/null; done; rm -rf ${base}`).catch((error: unknown) => console.error(`cleanup on the lab: ${(error as Error).message}`));
      await services.close();
      await orm.close();
      await proxy.close();
      rmSync(dir, { recursive: true, force: true });
    }
    return { figures, tables, notes };
  },
};

export default bench;
