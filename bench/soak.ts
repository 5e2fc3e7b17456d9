// Soak: the real server (bench/soak-server.ts, a child process with --expose-gc) polls the lab back to back for
// 5,000 ticks while a steady population of real jobs runs through its GraphQL API, and sshd killed, sshd stalled
// and slurmctld stopped are injected in turn every few hundred ticks. Counted: unhandled rejections and uncaught
// exceptions in the server, its RSS after full GCs (end of warm-up vs end), how many ticks each fault took to be
// seen and to heal, and every job's final state against sacct on the lab.
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { stringify } from 'yaml';
import { TERMINAL_STATES, type JobState } from '../server/slurm/state.js';
import { graphqlClient } from '../test/graphql-client.js';
import { seededRandom } from '../test/seeded-random.js';
import { labFaults, type Stall } from '../test/lab/faults.js';
import { createFixtureRepo } from '../test/lab/fixture-repo.js';
import { labClusterEntry } from '../test/lab/lab-env.js';
import type { Bench, Figure } from './bench.js';
import { percentile } from './bench.js';
import { requireLab } from './lab-server.js';
import type { SoakReply, SoakRequest, TickOutcome } from './soak-server.js';
import { labRun, labShell, loadAverage, ms, RUN_ID, seconds, sleep } from './support.js';

const setting = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}: not a number: ${process.env[name]}`);
  return value;
};
const TICKS = setting('MC_BENCH_SOAK_TICKS', 5000);
const WARMUP = setting('MC_BENCH_SOAK_WARMUP', Math.min(500, Math.round(TICKS / 10)));
/** Healthy ticks between one fault's recovery and the next fault. */
const FAULT_GAP = setting('MC_BENCH_SOAK_FAULT_GAP', 400);
/**
 * How long a fault stays once the server has seen it (its cluster went stale): this, then twice and three times
 * this at the next faults of the same kind. A stall held past ~60 s outlives the connection's keepalive (15 s × 3
 * missed) and one held shorter does not, and the two take different paths back.
 */
const FAULT_HOLD_MS = setting('MC_BENCH_SOAK_FAULT_HOLD_S', 20) * 1000;
const ALIVE_JOBS = setting('MC_BENCH_SOAK_JOBS', 10);
/** A tick starts at least this long after the previous one started (see the notes). */
const MIN_TICK_MS = setting('MC_BENCH_SOAK_MIN_TICK_MS', 250);
const SAMPLE_EVERY = 100;
const RSS_GROWTH_GOAL = 0.1;
const STALE_LIMIT_MS = 180_000;
const RECOVERY_LIMIT_MS = 300_000;
const DRAIN_LIMIT_MS = 480_000;
/** No tick at all for this long: the poll is stuck, which is a finding, and the soak stops. */
const TICK_STUCK_MS = 600_000;

type FaultKind = 'sshd killed' | 'sshd stalled' | 'slurmctld stopped';
const FAULT_KINDS: FaultKind[] = ['sshd killed', 'sshd stalled', 'slurmctld stopped'];
type JobKind = 'completes' | 'fails' | 'cancelled' | 'times out';
const ACTIVE_STATES: JobState[] = ['SUBMITTING', 'PENDING', 'RUNNING', 'COMPLETING', 'UNKNOWN'];

interface Tick {
  index: number;
  startedAt: number;
  endedAt: number;
  outcome: TickOutcome;
  error?: string;
}

interface FaultRun {
  kind: FaultKind;
  holdMs: number;
  startTick: number;
  injectedAt: number;
  staleTicks: number | null;
  staleMs: number | null;
  firstError: string | null;
  healStartedAt: number;
  healMs: number;
  recoveryTicks: number | null;
  recoveryMs: number | null;
  endTick: number;
  errorTicks: number;
  /** Jobs whose end SLURM recorded between the injection and the first good poll (filled at the end). */
  jobsEnded: number;
  recoveredAt: number | null;
}

interface Launch {
  id: number;
  tag: string;
  kind: JobKind;
  duringFault: boolean;
  cancelAt?: number;
  cancelled?: boolean;
}

interface DbJob {
  id: number;
  tag: string;
  state: JobState;
  slurmState: string | null;
  slurmJobId: string | null;
  exitCode: number | null;
  signal: number | null;
  submitError: string | null;
}

interface SacctRow {
  slurmJobId: string;
  state: string;
  exitCode: number;
  signal: number;
  endedAt: number | null;
  workDir: string;
}

const now = () => performance.timeOrigin + performance.now();
const MiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
/** An error message with its numbers and times blanked, to group messages that differ only in those. */
const shape = (message: string) => message.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, '…').replace(/\d+(\.\d+)?/g, 'N').slice(0, 160);


function startChild(configPath: string, dataDir: string, logFile: string) {
  const log = openSync(logFile, 'a');
  const child: ChildProcess = fork(fileURLToPath(new URL('./soak-server.ts', import.meta.url)), [configPath, dataDir], {
    execArgv: ['--expose-gc', '--import', 'tsx'],
    stdio: ['ignore', log, log, 'ipc'],
  });
  closeSync(log);
  return child;
}

const JOB_FIELDS = 'id tag state slurmState slurmJobId exitCode signal submitError';

const bench: Bench = {
  title: `Soak: ${TICKS.toLocaleString('en')} accelerated poll ticks with faults injected`,
  async run() {
    const lab = requireLab();
    const faults = labFaults(lab);
    const dir = mkdtempSync(join(tmpdir(), 'mc-bench-soak-'));
    const logFile = join(dir, 'server.log');
    // The workspace carries the run's prefix, so removing it removes every checkout and job directory of the run.
    writeFileSync(
      join(dir, 'clusters.yaml'),
      stringify({ server: { auth: { allowLoopbackWithoutToken: true } }, clusters: { lab: { ...labClusterEntry(lab), workspace: `~/${RUN_ID}` } } }),
    );
    const repo = createFixtureRepo(lab.user);
    const home = (await labRun(lab, 'printf %s "$HOME"')).trim();
    const startedAtSeconds = Math.floor(Date.now() / 1000) - 60;

    const ticks: Tick[] = [];
    const samples: Array<Extract<SoakReply, { type: 'sample' }>> = [];
    const crashes: Array<Extract<SoakReply, { type: 'crash' }>> = [];
    // Set from callbacks; one object, so that the compiler does not take them for constants.
    const state = {
      stopped: null as Extract<SoakReply, { type: 'stopped' }> | null,
      childExit: null as string | null,
      stall: null as Stall | null,
      child: null as ChildProcess | null,
      phase: 'soak' as 'soak' | 'drain' | 'done',
      subscriber: null as Client | null,
    };

    try {
      const child = startChild(join(dir, 'clusters.yaml'), join(dir, 'data'), logFile);
      state.child = child;
      const url = await new Promise<string>((resolve, reject) => {
        child.on('message', (message: SoakReply) => {
          if (message.type === 'ready') resolve(message.url);
          else if (message.type === 'tick') ticks.push(message);
          else if (message.type === 'sample') samples.push(message);
          else if (message.type === 'crash') {
            crashes.push(message);
            console.log(`server: ${message.kind}: ${message.message.split('\n')[0]}`);
          } else if (message.type === 'stopped') state.stopped = message;
        });
        child.once('exit', (code, signal) => {
          state.childExit = `the soak server exited (code ${code}, signal ${signal}); its log: ${readFileSync(logFile, 'utf8').trim().split('\n').slice(-10).join(' | ')}`;
          reject(new Error(state.childExit));
        });
      });
      const request = graphqlClient(url);
      const added = await request(`mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } ... on Error { message } } }`, { path: repo.work });
      if (!added.addProject.data) throw new Error(`addProject: ${added.addProject.message}`);
      const projectId: number = added.addProject.data.id;
      // A subscriber as the phone app keeps one, so that the server's subscription path runs through the faults too.
      let events = 0;
      const subscriptionErrors: string[] = [];
      state.subscriber = createClient({ url: `${url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
      state.subscriber.subscribe(
        { query: 'subscription($projectId: Int) { jobUpdated(projectId: $projectId) { id state exitCode } }', variables: { projectId } },
        { next: () => void events++, error: (error) => void subscriptionErrors.push(String((error as Error).message ?? error)), complete: () => undefined },
      );

      // ---------------------------------------------------------------------------- jobs: a steady population
      const random = seededRandom(6);
      const launches = new Map<number, Launch>();
      const launchRefusals = new Map<string, number>();
      const cancelErrors = new Map<string, number>();
      let launched = 0;
      let activeFault: FaultRun | null = null;

      async function activeJobs(): Promise<Array<{ id: number; state: JobState; createdAt: string }>> {
        const { jobs } = await request(`query($filter: JobFilter) { jobs(filter: $filter, first: 100) { edges { node { id state createdAt } } } }`, {
          filter: { projectId, states: ACTIVE_STATES },
        });
        return jobs.edges.map((edge: { node: { id: number; state: JobState; createdAt: string } }) => edge.node);
      }

      async function launch(): Promise<void> {
        const index = launched++;
        // Mostly successes; one in ten fails with exit code 3, one in ten is cancelled through the app while it
        // waits or runs, one in 25 outlives its 1-minute limit. Two in five go to the cpu partition (4 CPUs), the
        // rest to gpu (8): CPUs stay free for other users of the lab and for lab.sh's smoke job when it heals.
        const kind: JobKind = index % 25 === 12 ? 'times out' : index % 10 === 4 ? 'fails' : index % 10 === 9 ? 'cancelled' : 'completes';
        const sleepSeconds = kind === 'times out' ? 600 : kind === 'cancelled' ? 300 : kind === 'fails' ? 3 + Math.floor(random() * 10) : 3 + Math.floor(random() * 38);
        const input = {
          projectId,
          cluster: 'lab',
          name: RUN_ID,
          primary: 'train',
          memory: '200M',
          timeLimit: kind === 'times out' ? '1' : '10:00',
          ...(index % 5 < 2 ? { partition: 'cpu' } : {}),
          parameters: [
            { path: 'sleep_seconds', value: sleepSeconds },
            { path: 'exit_code', value: kind === 'fails' ? 3 : 0 },
          ],
        };
        const duringFault = activeFault !== null;
        const submitted = await request(`mutation($input: JobInput!) { submitJob(input: $input) { ... on MutationSubmitJobSuccess { data { id tag } } ... on Error { message } } }`, { input });
        const data = submitted.submitJob.data as { id: number; tag: string } | undefined;
        if (!data) {
          const key = shape(submitted.submitJob.message as string);
          launchRefusals.set(key, (launchRefusals.get(key) ?? 0) + 1);
          return;
        }
        launches.set(data.id, { id: data.id, tag: data.tag, kind, duringFault: duringFault || activeFault !== null, ...(kind === 'cancelled' ? { cancelAt: Date.now() + 5000 + random() * 20_000 } : {}) });
      }

      async function cancel(target: Launch): Promise<void> {
        const answer = await request(`mutation($id: Int!) { cancelJob(id: $id) { ... on MutationCancelJobSuccess { data { state } } ... on Error { message } } }`, { id: target.id });
        if (answer.cancelJob.data) {
          target.cancelled = true;
          return;
        }
        const message = answer.cancelJob.message as string;
        // It ended first: nothing left to cancel.
        if (/has already ended/.test(message)) {
          target.cancelled = false;
          return;
        }
        cancelErrors.set(shape(message), (cancelErrors.get(shape(message)) ?? 0) + 1);
        target.cancelAt = Date.now() + 2000;
      }

      async function tend(): Promise<void> {
        while (state.phase !== 'done') {
          try {
            const active = await activeJobs();
            const activeIds = new Set(active.map((job) => job.id));
            for (const target of launches.values()) {
              const due = target.cancelAt !== undefined && target.cancelled === undefined && (state.phase === 'drain' || target.cancelAt <= Date.now());
              if (due && activeIds.has(target.id)) await cancel(target);
            }
            // A launch whose outcome is not known yet stays SUBMITTING; one that stays so for minutes would hold a
            // place in the population forever.
            const alive = active.filter((job) => job.state !== 'SUBMITTING' || Date.now() - Date.parse(job.createdAt) < 120_000).length;
            if (state.phase === 'soak' && alive < ALIVE_JOBS) await launch();
            else await sleep(1000);
          } catch (error) {
            console.log(`job tending: ${(error as Error).message}`);
            await sleep(1000);
          }
        }
      }

      // The population first, so that warm-up ticks poll real jobs.
      while (launches.size < ALIVE_JOBS && launched < ALIVE_JOBS * 3) await launch();
      const tending = tend();

      // ---------------------------------------------------------------------------- ticks
      const send = (message: SoakRequest) => child.send(message);
      const sampleAt = [WARMUP, TICKS];
      send({ type: 'run', minTickMs: MIN_TICK_MS, sampleAt, sampleEvery: SAMPLE_EVERY });
      const soakStarted = now();

      async function until(condition: () => boolean, limitMs: number, what: string): Promise<boolean> {
        const deadline = now() + limitMs;
        while (!condition()) {
          if (state.childExit) throw new Error(state.childExit);
          const last = ticks.at(-1);
          if (now() - (last?.endedAt ?? soakStarted) > TICK_STUCK_MS) throw new Error(`no tick has returned for ${seconds(TICK_STUCK_MS)} (last: tick ${last?.index ?? 0}) while waiting for ${what}: a poll is stuck`);
          if (now() > deadline) return false;
          await sleep(100);
        }
        return true;
      }
      const ticksEndedAfter = (at: number) => ticks.filter((tick) => tick.endedAt > at);

      // ---------------------------------------------------------------------------- faults, in turn
      const faultRuns: FaultRun[] = [];
      async function runFault(kind: FaultKind, holdMs: number): Promise<FaultRun> {
        const startTick = ticks.length;
        const injectedAt = now();
        if (kind === 'sshd killed') faults.killSshd();
        else if (kind === 'sshd stalled') state.stall = faults.stallSshd();
        else faults.stopSlurmctld();
        const run: FaultRun = { kind, holdMs, startTick, injectedAt, staleTicks: null, staleMs: null, firstError: null, healStartedAt: 0, healMs: 0, recoveryTicks: null, recoveryMs: null, endTick: 0, errorTicks: 0, jobsEnded: 0, recoveredAt: null };
        activeFault = run;
        console.log(`tick ${startTick}: ${kind}`);
        const failed = () => ticksEndedAfter(injectedAt).find((tick) => tick.outcome === 'error');
        if (await until(() => failed() !== undefined, STALE_LIMIT_MS, `${kind} to be seen`)) {
          const first = failed()!;
          run.staleTicks = ticksEndedAfter(injectedAt).indexOf(first) + 1;
          run.staleMs = first.endedAt - injectedAt;
          run.firstError = first.error ?? '';
          await sleep(holdMs);
        }
        run.healStartedAt = now();
        if (kind === 'sshd stalled') {
          state.stall!.resume();
          state.stall = null;
        } else {
          // lab.sh up ends with a smoke job; one that waited too long for a CPU fails it after the daemons started.
          await faults.labUp().catch(async (error: unknown) => {
            console.log(`lab.sh up failed, once more in 10 s: ${(error as Error).message}`);
            await sleep(10_000);
            await faults.labUp();
          });
        }
        run.healMs = now() - run.healStartedAt;
        const recovered = () => ticksEndedAfter(run.healStartedAt).find((tick) => tick.outcome === 'ok');
        if (await until(() => recovered() !== undefined, RECOVERY_LIMIT_MS, `recovery from ${kind}`)) {
          const first = recovered()!;
          run.recoveryTicks = ticksEndedAfter(run.healStartedAt).indexOf(first) + 1;
          run.recoveryMs = first.endedAt - run.healStartedAt;
          run.recoveredAt = first.endedAt;
        }
        run.endTick = ticks.length;
        run.errorTicks = ticks.slice(startTick, run.endTick).filter((tick) => tick.outcome === 'error').length;
        activeFault = null;
        console.log(`tick ${run.endTick}: ${kind} seen after ${run.staleTicks ?? 'never'} tick(s), recovered ${run.recoveryTicks === null ? 'never' : `${run.recoveryTicks} tick(s), ${seconds(run.recoveryMs!)} after the heal began`}`);
        return run;
      }

      let progressAt = 0;
      const progress = () => {
        if (ticks.length < progressAt + 500) return;
        progressAt = ticks.length - (ticks.length % 500);
        const sample = samples.at(-1);
        console.log(`tick ${ticks.length}: ${ticks.filter((tick) => tick.outcome === 'error').length} failed so far, ${launches.size} jobs launched, RSS ${sample ? MiB(sample.rss) : '?'}, load ${loadAverage()}`);
      };
      for (let next = WARMUP; ; ) {
        await until(() => (progress(), ticks.length >= next || ticks.length >= TICKS), Number.POSITIVE_INFINITY, `tick ${next}`);
        // The last stretch is left healthy, so the memory at the end is not taken in the middle of a fault.
        if (ticks.length >= TICKS - FAULT_GAP) break;
        const kind = FAULT_KINDS[faultRuns.length % FAULT_KINDS.length]!;
        const before = faultRuns.filter((run) => run.kind === kind).length;
        faultRuns.push(await runFault(kind, FAULT_HOLD_MS * (1 + (before % 3))));
        next = ticks.length + FAULT_GAP;
      }
      await until(() => (progress(), ticks.length >= TICKS), Number.POSITIVE_INFINITY, `tick ${TICKS}`);
      const soakMs = ticks[TICKS - 1]!.endedAt - soakStarted;

      // ---------------------------------------------------------------------------- drain
      state.phase = 'drain';
      const drainStarted = now();
      for (;;) {
        const remaining = await activeJobs();
        // SUBMITTING and UNKNOWN are states no poll moves on its own; past a few minutes they are findings.
        const onlyStuck = remaining.every((job) => job.state === 'SUBMITTING' || job.state === 'UNKNOWN') && now() - drainStarted > 180_000;
        if (remaining.length === 0 || onlyStuck || now() - drainStarted > DRAIN_LIMIT_MS) break;
        // A pause that still notices a stuck tick loop.
        await until(() => false, 2000, 'the last jobs to end');
      }
      const drainMs = now() - drainStarted;
      const drainTicks = ticks.length - TICKS;
      state.phase = 'done';
      await tending;
      send({ type: 'stop' });
      await until(() => state.stopped !== null, 120_000, 'the tick loop to stop');
      const stopped = state.stopped;

      // ---------------------------------------------------------------------------- truth: sacct on the lab
      const dbJobs: DbJob[] = [];
      for (let after: string | null = null; ; ) {
        const page: { jobs: { edges: Array<{ node: DbJob }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } = await request(
          `query($filter: JobFilter, $after: String) { jobs(filter: $filter, first: 100, after: $after) { edges { node { ${JOB_FIELDS} } } pageInfo { hasNextPage endCursor } } }`,
          { filter: { projectId }, after },
        );
        dbJobs.push(...page.jobs.edges.map((edge) => edge.node));
        if (!page.jobs.pageInfo.hasNextPage) break;
        after = page.jobs.pageInfo.endCursor;
      }
      // Accounting can trail the controller by a few seconds (more after slurmctld restarts): read it until no job
      // of the run is still active there.
      let sacct: SacctRow[] = [];
      for (const deadline = now() + 120_000; ; ) {
        const out = await labRun(lab, `SLURM_TIME_FORMAT=%s sacct -X -n -P --name=${RUN_ID} -S "$(date -d @${startedAtSeconds} +%Y-%m-%dT%H:%M:%S)" -E now -o JobID,State,ExitCode,End,WorkDir`);
        sacct = out
          .split('\n')
          .filter(Boolean)
          .map((line) => {
            const [slurmJobId, state, exit, end, workDir] = line.split('|');
            const [code, signal] = (exit ?? '').split(':').map(Number);
            return { slurmJobId: slurmJobId!, state: state!.split(' ')[0]!, exitCode: code!, signal: signal!, endedAt: /^\d+$/.test(end ?? '') ? Number(end) * 1000 : null, workDir: workDir ?? '' };
          });
        if (!sacct.some((row) => /^(PENDING|RUNNING|REQUEUED|COMPLETING|SUSPENDED|RESIZING)$/.test(row.state)) || now() > deadline) break;
        await sleep(2000);
      }
      const bySlurmId = new Map(sacct.map((row) => [row.slurmJobId, row]));
      const workDirOf = (tag: string) => `${home}/${RUN_ID}/jobs/${tag}/code`;

      interface Verdict {
        job: DbJob;
        truth: string;
        stateMatches: boolean;
        exitMatches: boolean;
      }
      const verdicts: Verdict[] = dbJobs.map((job) => {
        if (job.slurmJobId) {
          const row = bySlurmId.get(job.slurmJobId);
          if (!row) return { job, truth: 'no such job in sacct', stateMatches: false, exitMatches: false };
          const workDirMatches = row.workDir === workDirOf(job.tag);
          return {
            job,
            truth: `${row.state} ${row.exitCode}:${row.signal}${workDirMatches ? '' : ` (another launch's job: ${row.workDir})`}`,
            stateMatches: workDirMatches && row.state === job.state,
            exitMatches: row.exitCode === job.exitCode,
          };
        }
        const submitted = sacct.find((row) => row.workDir === workDirOf(job.tag));
        if (job.state === 'SUBMIT_FAILED') return { job, truth: submitted ? `SLURM has it: ${submitted.slurmJobId} ${submitted.state}` : 'no SLURM job from this launch', stateMatches: !submitted, exitMatches: true };
        return { job, truth: submitted ? `SLURM has it: ${submitted.slurmJobId} ${submitted.state}` : 'no SLURM job from this launch', stateMatches: false, exitMatches: true };
      });
      const known = new Set(dbJobs.flatMap((job) => (job.slurmJobId ? [job.slurmJobId] : [])));
      const unknownToDb = sacct.filter((row) => !known.has(row.slurmJobId));
      const stateMismatches = verdicts.filter((verdict) => !verdict.stateMatches);
      const exitMismatches = verdicts.filter((verdict) => verdict.stateMatches && !verdict.exitMatches);
      // slurmctld keeps an ended job for MinJobAge; the jobs it still held when it was stopped are the ones whose
      // accounting record a restart can write again, after the server has taken the job's end as final.
      const minJobAgeSeconds = Number(/MinJobAge\s*=\s*(\d+)/.exec(await labRun(lab, 'scontrol show config'))?.[1] ?? Number.NaN);
      const ctldStops = faultRuns.filter((run) => run.kind === 'slurmctld stopped').map((run) => run.injectedAt);
      const heldAtStop = (verdict: (typeof verdicts)[number]) => {
        const endedAt = verdict.job.slurmJobId ? bySlurmId.get(verdict.job.slurmJobId)?.endedAt : null;
        return typeof endedAt === 'number' && ctldStops.some((stop) => endedAt <= stop && endedAt >= stop - minJobAgeSeconds * 1000);
      };
      const exitNull = exitMismatches.filter((verdict) => verdict.job.exitCode === null).length;
      for (const run of faultRuns) {
        const over = run.recoveredAt ?? run.healStartedAt + run.healMs;
        run.jobsEnded = sacct.filter((row) => row.endedAt !== null && row.endedAt >= run.injectedAt && row.endedAt <= over).length;
      }

      // ---------------------------------------------------------------------------- figures
      const measured = ticks.slice(0, TICKS);
      const durations = measured.map((tick) => tick.endedAt - tick.startedAt);
      const okDurations = measured.filter((tick) => tick.outcome === 'ok').map((tick) => tick.endedAt - tick.startedAt);
      const count = (outcome: TickOutcome) => measured.filter((tick) => tick.outcome === outcome).length;
      const sampleOf = (tick: number) => samples.find((sample) => sample.tick === tick);
      const warm = sampleOf(WARMUP);
      const end = sampleOf(TICKS);
      const growth = warm && end ? (end.rss - warm.rss) / warm.rss : Number.NaN;
      const afterWarmup = samples.filter((sample) => sample.tick >= WARMUP && sample.tick <= TICKS);
      const maxSample = afterWarmup.reduce((max, sample) => (sample.rss > max.rss ? sample : max), afterWarmup[0]!);
      const minSample = afterWarmup.reduce((min, sample) => (sample.rss < min.rss ? sample : min), afterWarmup[0]!);
      const unhandled = crashes.filter((crash) => crash.kind === 'unhandledRejection').length;
      const uncaught = crashes.filter((crash) => crash.kind === 'uncaughtException').length;
      const seen = faultRuns.filter((run) => run.staleTicks !== null).length;
      const recovered = faultRuns.filter((run) => run.recoveryTicks !== null).length;
      const recoveries = faultRuns.flatMap((run) => (run.recoveryMs === null ? [] : [run.recoveryMs]));
      const finalStates = new Map<string, number>();
      for (const job of dbJobs) finalStates.set(job.state, (finalStates.get(job.state) ?? 0) + 1);
      const rightState = verdicts.length - stateMismatches.length;

      const figures: Figure[] = [
        { label: 'poll ticks (back to back through the poller; after them, until the last job ended)', value: `${TICKS.toLocaleString('en')} in ${seconds(soakMs)} (+ ${drainTicks} in ${seconds(drainMs)})` },
        { label: 'tick time, p50 / p99 (all ticks; successful ones only)', value: `${ms(percentile(durations, 50))} / ${ms(percentile(durations, 99))} (${ms(percentile(okDurations, 50))} / ${ms(percentile(okDurations, 99))})` },
        { label: 'unhandled rejections / uncaught exceptions in the server', value: `${unhandled} / ${uncaught}`, goal: '0 / 0', met: unhandled === 0 && uncaught === 0 },
        {
          label: `server RSS after full GCs, end of warm-up (tick ${WARMUP}) → end (tick ${TICKS})`,
          value: warm && end ? `${MiB(warm.rss)} → ${MiB(end.rss)} (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)} %)` : 'not sampled',
          goal: `< +${RSS_GROWTH_GOAL * 100} %`,
          met: growth < RSS_GROWTH_GOAL,
        },
        {
          label: 'server RSS after full GCs, lowest – highest sample after warm-up; peak RSS ever (no GC)',
          value: `${MiB(minSample?.rss ?? Number.NaN)} – ${MiB(maxSample?.rss ?? Number.NaN)} (tick ${minSample?.tick} – tick ${maxSample?.tick}); ${MiB((stopped?.peakRssKiB ?? Number.NaN) * 1024)}`,
        },
        { label: 'JS heap after full GCs, end of warm-up → end', value: warm && end ? `${MiB(warm.heapUsed)} → ${MiB(end.heapUsed)}` : 'not sampled' },
        {
          label: `faults injected (${FAULT_KINDS.map((kind) => `${faultRuns.filter((run) => run.kind === kind).length} ${kind}`).join(', ')}): seen (cluster stale) / recovered on their own`,
          value: `${seen} / ${recovered} of ${faultRuns.length}`,
          goal: 'all',
          met: faultRuns.length > 0 && seen === faultRuns.length && recovered === faultRuns.length,
        },
        { label: 'recovery: heal → first successful poll, median / max', value: recoveries.length ? `${seconds(percentile(recoveries, 50))} / ${seconds(Math.max(...recoveries))}` : 'n/a' },
        {
          label: `jobs whose final state in the database is SLURM's (sacct), of ${dbJobs.length} launched through the API`,
          value: `${rightState} of ${dbJobs.length}${unknownToDb.length ? `; ${unknownToDb.length} SLURM job(s) of the run unknown to the database` : ''}`,
          goal: 'all',
          met: stateMismatches.length === 0 && unknownToDb.length === 0,
        },
        {
          label: "of those, jobs whose exit code in the database is sacct's",
          value: `${rightState - exitMismatches.length} of ${rightState}`,
          goal: 'all',
          met: exitMismatches.length === 0,
        },
      ];

      const faultTable = {
        columns: ['#', 'fault', 'at tick', 'seen (stale) after', 'first error', 'held after seen', 'heal', 'recovered after the heal began', 'ticks failed', 'jobs ended in SLURM meanwhile'],
        rows: faultRuns.map((run, index) => [
          index + 1,
          run.kind,
          run.startTick,
          run.staleTicks === null ? `not within ${seconds(STALE_LIMIT_MS)}` : `${run.staleTicks} tick(s), ${seconds(run.staleMs!)}`,
          `\`${(run.firstError ?? '').replace(/\|/g, '/').slice(0, 110)}\``,
          run.staleTicks === null ? '' : seconds(run.holdMs),
          `${run.kind === 'sshd stalled' ? 'SIGCONT' : 'lab.sh up'}, ${seconds(run.healMs)}`,
          run.recoveryTicks === null ? `not within ${seconds(RECOVERY_LIMIT_MS)}` : `${run.recoveryTicks} tick(s), ${seconds(run.recoveryMs!)}`,
          run.errorTicks,
          run.jobsEnded,
        ]),
      };
      const kinds: JobKind[] = ['completes', 'fails', 'cancelled', 'times out'];
      const stateTable = {
        columns: ['launched to', 'jobs', 'of them launched during a fault', 'final states in the database', 'matching sacct'],
        rows: kinds.map((kind) => {
          const ofKind = verdicts.filter((verdict) => launches.get(verdict.job.id)?.kind === kind);
          const states = new Map<string, number>();
          for (const verdict of ofKind) states.set(verdict.job.state, (states.get(verdict.job.state) ?? 0) + 1);
          return [
            kind === 'cancelled' ? 'be cancelled (cancelJob after 5–25 s)' : kind,
            ofKind.length,
            ofKind.filter((verdict) => launches.get(verdict.job.id)!.duringFault).length,
            [...states].map(([state, number]) => `${state} ${number}`).join(', '),
            ofKind.filter((verdict) => verdict.stateMatches && verdict.exitMatches).length,
          ];
        }),
      };
      const mismatchTable = {
        columns: ['job', 'launched', 'database: state, exit code:signal', 'sacct', 'submit error'],
        rows: [...stateMismatches, ...exitMismatches].slice(0, 25).map((verdict) => [
          `${verdict.job.id} (${verdict.job.slurmJobId ?? 'no SLURM id'})`,
          `${launches.get(verdict.job.id)?.kind ?? '?'}${launches.get(verdict.job.id)?.duringFault ? ', during a fault' : ''}`,
          `${verdict.job.state} ${verdict.job.exitCode ?? '-'}:${verdict.job.signal ?? '-'}`,
          verdict.truth,
          (verdict.job.submitError ?? '').slice(0, 120),
        ]),
      };
      // About ten rows: the warm-up's end, the end, and evenly spaced samples.
      const step = Math.max(SAMPLE_EVERY, Math.round(TICKS / 10 / SAMPLE_EVERY) * SAMPLE_EVERY);
      const memoryTable = {
        columns: ['tick', 'RSS', 'JS heap', 'external'],
        rows: [...new Map(samples.filter((sample) => sample.tick <= TICKS && (sample.tick === WARMUP || sample.tick === TICKS || sample.tick % step === 0)).map((sample) => [sample.tick, sample])).values()]
          .sort((a, b) => a.tick - b.tick)
          .map((sample) => [sample.tick, MiB(sample.rss), MiB(sample.heapUsed), MiB(sample.external)]),
      };
      const outcomeTable = {
        columns: ['tick outcome', 'ticks', 'p50', 'p99', 'max'],
        rows: (['ok', 'error', 'idle'] as const).map((outcome) => {
          const times = measured.filter((tick) => tick.outcome === outcome).map((tick) => tick.endedAt - tick.startedAt);
          return [outcome === 'ok' ? 'poll answered' : outcome === 'error' ? 'poll failed (cluster stale)' : 'no active job (no command)', count(outcome), ms(percentile(times, 50)), ms(percentile(times, 99)), ms(times.length ? Math.max(...times) : Number.NaN)];
        }),
      };

      const logLines = readFileSync(logFile, 'utf8').split('\n').filter(Boolean);
      const logShapes = new Map<string, number>();
      for (const line of logLines) logShapes.set(shape(line), (logShapes.get(shape(line)) ?? 0) + 1);
      const topLog = [...logShapes].sort((a, b) => b[1] - a[1]).slice(0, 6);
      const cpuSeconds = (stopped?.cpuMicros ?? 0) / 1e6;

      return {
        figures,
        tables: [faultTable, stateTable, ...(mismatchTable.rows.length ? [mismatchTable] : []), outcomeTable, memoryTable],
        notes: [
          `The server is the real app (startServer, as \`npm start\` runs it: croner poller, lifecycle watcher, notifier, HTTP API) in a child process started with --expose-gc, on the lab with the cluster's default settings (poll interval 30 s, connect timeout 10 s, command timeout 30 s, keepalive every 15 s, 3 missed = dead) and its workspace under ~/${RUN_ID}. A tick is the poller's own pollNow('lab') (one remote command for every active job), run back to back instead of at the croner's pace; the croner schedule and the lifecycle watcher run beside it as in production (their polls join a tick in flight). A tick starts at least ${MIN_TICK_MS} ms after the previous one started, about a healthy tick's own length, so ticks that fail at once while the transport backs off from a dead sshd do not burn through the count in seconds. Its outcome is what the poller recorded for the cluster (recordPoll: answered, or failed and the cluster stale).`,
          `Jobs: ${dbJobs.length} fixture-project jobs launched through the API's submitJob (${ALIVE_JOBS} kept active; sleep_seconds 3–40, one in ten exit_code=3, one in ten cancelled through cancelJob 5–25 s after launch, one in 25 past a 1-minute time limit; two in five in the cpu partition), also during faults as a user would. ${launchRefusals.size ? `Launches refused outright (no job stored): ${[...launchRefusals].map(([message, number]) => `${number} × "${message}"`).join('; ')}.` : 'No launch was refused outright.'} ${cancelErrors.size ? `cancelJob answered with an error (retried 2 s later): ${[...cancelErrors].map(([message, number]) => `${number} × "${message}"`).join('; ')}.` : ''}`,
          `Faults, in turn after warm-up, each ${FAULT_GAP} healthy ticks after the previous one recovered: **sshd killed** (the lab sshd's listener and every session it spawned, SIGTERM, as a reboot of the login node would; healed by lab.sh up), **sshd stalled** (the listener and its sessions SIGSTOPped: the port still accepts, nothing answers, on the open connection or a new one, as a hung login node; healed by SIGCONT), **slurmctld stopped** (SIGTERM; healed by lab.sh up). Each is held ${seconds(FAULT_HOLD_MS)} after the first failed tick, then ${seconds(2 * FAULT_HOLD_MS)} and ${seconds(3 * FAULT_HOLD_MS)} at the next ones of its kind (a stall longer than about 60 s outlives the connection's keepalive). "Seen after" counts the ticks that ended after the injection up to the first failed one; "recovered after" counts those that ended after the heal began up to the first good one (lab.sh up starts the daemon and then runs its own smoke job, so a recovery can come before the heal command returns).`,
          `Memory: RSS and JS heap after three forced full GCs (between ticks) every ${SAMPLE_EVERY} ticks; warm-up is the first ${WARMUP} ticks (connections, caches, JIT). Peak RSS is the kernel's high-water mark for the process, garbage included. Server CPU time over the whole run: ${cpuSeconds.toFixed(0)} s.`,
          `Truth: every job of the run in sacct (by its name ${RUN_ID}), read once accounting had no active job of the run; a job matches when sacct's state is the database's and its exit code is the database's (a launch without a SLURM id matches when sacct has no job from its working directory). ${unknownToDb.length ? `SLURM jobs of the run the database does not know: ${unknownToDb.map((row) => `${row.slurmJobId} (${row.state}, ${row.workDir})`).join(', ')}.` : 'Every SLURM job of the run is known to the database under its id.'}`,
          ...(exitMismatches.length
            ? [
                `Of the ${exitMismatches.length} exit codes that differ, ${exitMismatches.filter(heldAtStop).length} are of jobs SLURM ended within MinJobAge (${minJobAgeSeconds} s) before slurmctld was stopped, i.e. jobs the controller still held then, whose sacct record was read after its restart; ${exitNull} have no exit code in the database at all. The database's is the one SLURM gave when the server first saw the job ended; it does not read an ended job again.`,
              ]
            : []),
          `Unhandled rejections and uncaught exceptions are counted by listeners in the server process (which keep it alive to go on counting). ${crashes.length ? `Seen: ${crashes.map((crash) => `${crash.kind} "${crash.message.split('\n')[0]}"`).join('; ')}.` : ''} The server logged ${logLines.length} line(s); most frequent: ${topLog.map(([line, number]) => `${number} × \`${line.replace(/\|/g, '/')}\``).join('; ') || 'none'}.`,
          `A graphql-ws client subscribed to jobUpdated for the project throughout received ${events} event(s)${subscriptionErrors.length ? `; its subscription ended with: ${subscriptionErrors.join('; ')}` : ', and its subscription never failed'}. The bench also asks the API for the project's active jobs once a second.`,
          `Final states in the database: ${[...finalStates].map(([state, number]) => `${state} ${number}`).join(', ')}. Drain: after tick ${TICKS} no job was launched and the jobs still to be cancelled were cancelled; the ticks went on until every job had ended (${seconds(drainMs)}).`,
        ],
      };
    } finally {
      state.phase = 'done';
      await state.subscriber?.dispose();
      // The lab is healed whatever happened: a stalled sshd resumed, every daemon started again.
      state.stall?.resume();
      await faults.labUp().catch((error: unknown) => console.error(`could not heal the lab: ${(error as Error).message}`));
      const child = state.child;
      if (child && !state.childExit) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.send({ type: 'shutdown' } satisfies SoakRequest);
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
      }
      await labShell(lab, `scancel --name=${RUN_ID} 2>/dev/null; rm -rf "$HOME/${RUN_ID}"`);
      rmSync(dir, { recursive: true, force: true });
      rmSync(dirname(repo.work), { recursive: true, force: true });
    }
  },
};

export default bench;
