// Crash safety of submitJob: a real server process is killed with SIGKILL at a random moment after a submitJob was
// sent, restarted (it looks up interrupted launches at start), and killed again, 50 times over several servers in
// parallel. Afterwards every launch exists at most once in SLURM and once in the database, they agree on the SLURM id
// and on the job's state, and a launch the database never stored left nothing in SLURM.
//
// Each server reports the steps of its launches to a trace file (MC_SUBMIT_TRACE, written before each step goes on)
// and pauses briefly after the steps whose windows are otherwise a few milliseconds wide (MC_SUBMIT_PAUSE_MS). Each
// kill picks one window at random (before the insert, between insert and sbatch, during sbatch, between sbatch's
// answer and saving the id, after saving) and lands at a random delay inside it; where it really landed is read back
// from the trace. Restarts are warm (test/lab/crash-server.ts has its modules loaded already), so the new server looks
// up interrupted launches while the killed one's remote commands may still be finishing. Jobs are held
// (#SBATCH --hold) so that 50 launches take no lab resources.
//
// A second suite kills a sweep's submission (and a relaunch of its failed tasks) at each of those steps in turn: see
// 'a sweep submission killed at each step' below (~25 s; select it with -t sweep).
import { spawn, type ChildProcess } from 'node:child_process';
import { databaseArgs } from '../database-engine.js';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createTokenInDataDir, graphqlClient } from '../graphql-client.js';
import { seededRandom } from '../seeded-random.js';
import { createFixtureRepo } from './fixture-repo.js';
import { labClusterEntry, labForSuite, onLab, type Lab } from './lab-env.js';

const lab = labForSuite('lab crash-at-random-points suite');

const LANES = Number(process.env.MC_CRASH_LANES ?? 5);
const RUNS_PER_LANE = Number(process.env.MC_CRASH_RUNS ?? 10);
const PAUSE_MS = 150;
const RUN = `${process.pid}-${randomBytes(3).toString('hex')}`;
// The seed is printed, so a failing sequence of kill delays can be replayed with MC_CRASH_SEED.
const SEED = Number(process.env.MC_CRASH_SEED ?? Date.now() % 2 ** 31);

const newTag = () => [...randomBytes(12)].map((byte) => 'abcdefghijklmnopqrstuvwxyz0123456789'[byte % 36]).join('');

const KILL_POINTS = ['before the DB insert', 'between insert and sbatch', 'during sbatch', 'after sbatch, before saving the id', 'after saving'] as const;
type KillPoint = (typeof KILL_POINTS)[number];

/** The step the server reported last for a launch, from its trace ("<tag> <step> <epoch ms>" lines). */
function steps(trace: string, tag: string): Array<{ step: string; at: number }> {
  return trace
    .split('\n')
    .filter((line) => line.startsWith(`${tag} `))
    .map((line) => ({ step: line.split(' ')[1]!, at: Number(line.split(' ')[2]) }));
}

/** Where the kill landed, from the last step the server reported for the launch. */
function killPoint(trace: string, tag: string): KillPoint {
  switch (steps(trace, tag).at(-1)?.step) {
    case undefined:
    case 'prepared':
      return 'before the DB insert';
    case 'stored':
      return 'between insert and sbatch';
    case 'sbatch':
      return 'during sbatch';
    case 'answered':
      return 'after sbatch, before saving the id';
    default:
      return 'after saving';
  }
}

/** The step whose report opens each window. */
const OPENED_BY: Record<KillPoint, string> = {
  'before the DB insert': 'prepared',
  'between insert and sbatch': 'stored',
  'during sbatch': 'sbatch',
  'after sbatch, before saving the id': 'answered',
  'after saving': 'saved',
};

/** Waits for the launch to report `step`, or to be answered without it (a launch the cluster refused early). */
async function stepReported(trace: string, tag: string, step: string, answered: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!answered() && !steps(readFileSync(trace, 'utf8'), tag).some((entry) => entry.step === step)) {
    if (Date.now() > deadline) throw new Error(`launch ${tag} never reported ${step}:\n${readFileSync(trace, 'utf8').slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface Launch {
  lane: number;
  /** The launch's remote command was kept waiting for the repository lock past the restart. */
  contended?: boolean;
  tag: string;
  killedAfterMs: number | null;
  point: KillPoint | 'not killed';
  answered: boolean;
}

interface Server {
  child: ChildProcess;
  url: string;
  exited: Promise<NodeJS.Signals | null>;
  /** What it printed so far, for a failure message. */
  output?: () => string;
}

interface SpareServer {
  child: ChildProcess;
  start(): Promise<Server>;
}

/** A server process with its modules loaded, started on demand (see crash-server.ts). */
function spareServer(configPath: string, dataDir: string, trace: string, database: string[]): Promise<SpareServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/lab/crash-server.ts', '--config', configPath, '--data-dir', dataDir, ...database, '--port', '0'], {
    env: { ...process.env, MC_SUBMIT_TRACE: trace, MC_SUBMIT_PAUSE_MS: String(PAUSE_MS) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  let output = '';
  const printed = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const read = () => {
        const match = pattern.exec(output);
        if (match) resolve(match);
      };
      child.stdout!.on('data', read);
      read();
      void exited.then(() => reject(new Error(`server exited:\n${output}`)));
    });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return printed(/^loaded$/m).then(() => ({
    child,
    async start() {
      child.stdin!.write('start\n');
      const [, url] = await printed(/running at (http:\/\/\S+)/);
      return { child, url: url!, exited, output: () => output };
    },
  }));
}

/**
 * The servers of one data directory, one after the other: each call starts a warm one (the previous was killed) and
 * loads the next. Every process, waiting ones too, is kept in `servers` to be killed at the end.
 */
function serverLane(configPath: string, dataDir: string, database: string[], trace: string, servers: Server[], restartMs: number[] = []): () => Promise<Server> {
  let spare = spareServer(configPath, dataDir, trace, database);
  return async () => {
    const restartedAt = Date.now();
    const next = await (await spare).start();
    restartMs.push(Date.now() - restartedAt);
    servers.push(next);
    spare = spareServer(configPath, dataDir, trace, database);
    void spare.then((waiting) => servers.push({ child: waiting.child, url: '', exited: Promise.resolve(null) }));
    return next;
  };
}

/** A command on the lab that runs until its stdin is closed (ssh's own stdin: closing it ends the remote `cat`). */
function holdOnLab(lab: Lab, script: string): ChildProcess {
  const ssh = ['-i', lab.identityFile, '-p', String(lab.port), '-o', `UserKnownHostsFile=${lab.knownHostsFile}`, '-o', 'BatchMode=yes', `${lab.user}@${lab.host}`, script];
  return spawn('ssh', ssh, { stdio: ['pipe', 'ignore', 'inherit'] });
}


const JOBS = '{ jobs(first: 200) { nodes { id tag state slurmJobId submitError } } }';
interface StoredJob {
  id: number;
  tag: string;
  state: string;
  slurmJobId: string | null;
  submitError: string | null;
}

describe.skipIf(!lab)(`submitJob killed at random points (${LANES} servers × ${RUNS_PER_LANE} kills)`, () => {
  const servers: Server[] = [];
  const launches: Launch[] = [];
  const restartMs: number[] = [];
  const workspaceRoot = `mc-crash-${RUN}`;
  afterAll(async () => {
    for (const server of servers) server.child.kill('SIGKILL');
    for (const server of servers) await server.exited;
    // Only what this suite submitted: everything under its own workspace.
    onLab(lab!, `squeue -h -t all -u ${lab!.user} -o '%i|%Z' | awk -F'|' 'index($2, "/${workspaceRoot}-") { print $1 }' | xargs -r scancel; rm -rf ~/${workspaceRoot}-*`);
  });

  it('leaves every launch once in SLURM and once in the database, in the same state, or in neither', async () => {
    const random = seededRandom(SEED);
    const started = Date.now();
    const template = readFileSync(new URL('../../config/sbatch.template.sh', import.meta.url), 'utf8').replace('{{directives}}', '{{directives}}\n#SBATCH --hold');
    const lanes = await Promise.all(
      Array.from({ length: LANES }, async (_, lane) => {
        const repo = createFixtureRepo(lab!.user);
        const dir = mkdtempSync(join(tmpdir(), `mc-crash-${lane}-`));
        const configPath = join(dir, 'clusters.yaml');
        writeFileSync(join(dir, 'hold.template.sh'), template);
        writeFileSync(configPath, stringify({ clusters: { lab: { ...labClusterEntry(lab!), workspace: `~/${workspaceRoot}-${lane}`, scriptTemplate: join(dir, 'hold.template.sh') } } }));
        const dataDir = join(dir, 'data');
        const trace = join(dir, 'submit-trace.txt');
        const token = await createTokenInDataDir(dataDir);
        writeFileSync(trace, '');
        const restart = serverLane(configPath, dataDir, await databaseArgs(dataDir), trace, servers, restartMs);
        let server = await restart();
        const request = () => graphqlClient(server.url, token);
        const added = await request()(`mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } ... on Error { message } } }`, { path: repo.work });
        const input = { projectId: added.addProject.data.id, cluster: 'lab', primary: 'train', memory: '100M', timeLimit: '1:00', parameters: [{ path: 'sleep_seconds', value: 1 }] };
        const submit = (tag: string) => request()(`mutation($input: JobInput!, $tag: String) { submitJob(input: $input, tag: $tag) { __typename ... on Error { message } } }`, { input, tag });

        // One launch left alone: how long its steps take here sets the width of the windows to aim at.
        // (Retried: on a loaded lab sshd a connection can drop, and that launch is refused with ClusterUnreachableError.)
        let warmUpTag = '';
        let warmUpSent = 0;
        for (let attempt = 0; attempt < 3 && !launches.some((launch) => launch.tag === warmUpTag && launch.answered); attempt++) {
          warmUpTag = newTag();
          warmUpSent = Date.now();
          const result = await submit(warmUpTag);
          launches.push({ lane, tag: warmUpTag, killedAfterMs: null, point: 'not killed', answered: result.submitJob.__typename === 'MutationSubmitJobSuccess' });
        }
        expect(launches.find((launch) => launch.tag === warmUpTag)?.answered, 'a launch goes through when nothing kills it').toBe(true);
        const warmUp = new Map(steps(readFileSync(trace, 'utf8'), warmUpTag).map(({ step, at }) => [step, at]));
        const windowMs: Record<KillPoint, number> = {
          'before the DB insert': PAUSE_MS,
          'between insert and sbatch': PAUSE_MS,
          'during sbatch': warmUp.get('answered')! - warmUp.get('sbatch')!,
          'after sbatch, before saving the id': PAUSE_MS,
          'after saving': 100,
        };

        for (let run = 0; run < RUNS_PER_LANE; run++) {
          const tag = newTag();
          const aim = KILL_POINTS[Math.floor(random() * KILL_POINTS.length)]!;
          let settled = false;
          let answered = false;
          const sentAt = Date.now();
          const sent = submit(tag).then(
            (result) => {
              settled = true;
              answered = result.submitJob.__typename === 'MutationSubmitJobSuccess';
              return result;
            },
            (error: Error) => error.message,
          );
          sent.then((result) => typeof result !== 'string' && result.submitJob.__typename !== 'MutationSubmitJobSuccess' && console.warn(`launch ${tag} was refused: ${JSON.stringify(result)}`));
          // Half the kills during sbatch hit a launch waiting for the project's repository lock, as when another launch
          // of the same project is checking out: its remote command outlives the server and the restart's lookup.
          const contended = aim === 'during sbatch' && random() < 0.5 ? holdOnLab(lab!, `flock ~/${workspaceRoot}-${lane}/repos/ml-project-${input.projectId}.git.lock cat`) : null;
          // Half the kills aimed before the insert land while the launch is still being validated.
          if (aim === 'before the DB insert' && random() < 0.5) await new Promise((resolve) => setTimeout(resolve, random() * (warmUp.get('prepared')! - warmUpSent)));
          else {
            await stepReported(trace, tag, OPENED_BY[aim], () => settled).catch(async (error: Error) => {
              throw new Error(`${error.message}\nsubmitJob answered: ${JSON.stringify(await sent)} ${answered}\nserver output:\n${server.output?.().slice(-3000)}`);
            });
            await new Promise((resolve) => setTimeout(resolve, random() * windowMs[aim] * 0.8));
          }
          server.child.kill('SIGKILL');
          const killedAfterMs = Date.now() - sentAt;
          expect(await server.exited).toBe('SIGKILL');
          await sent;
          launches.push({ lane, tag, killedAfterMs, point: killPoint(readFileSync(trace, 'utf8'), tag), answered });
          // The next start looks up what this one left SUBMITTING (and may itself be killed while doing so).
          server = await restart();
          if (contended) {
            // The lookup runs with the killed launch's remote command still waiting; then that command may go on.
            const lookedUp = Date.now();
            await expect.poll(() => /looked up \d+ launch/.test(server.output?.() ?? '') || Date.now() - lookedUp > 3000, { timeout: 10_000, interval: 100 }).toBe(true);
            contended.stdin!.end();
            launches.at(-1)!.contended = true;
          }
        }

        // The last start's lookups finish: nothing may stay SUBMITTING.
        let jobs: StoredJob[] = [];
        await expect
          .poll(async () => (jobs = (await request()<{ jobs: { nodes: StoredJob[] } }>(JOBS)).jobs.nodes).filter((job) => job.state === 'SUBMITTING').map((job) => job.tag), { timeout: 60_000, interval: 1000 })
          .toEqual([]);
        return { lane, request, jobs };
      }),
    );

    const distribution = Object.fromEntries(['not killed', ...KILL_POINTS].map((point) => [point, launches.filter((launch) => launch.point === point).length]));
    const delays = (point: string) => launches.filter((launch) => launch.point === point).map((launch) => launch.killedAfterMs!);
    const table = KILL_POINTS.map((point) => `  ${point.padEnd(36)} ${String(distribution[point]).padStart(3)}   killed ${Math.min(...delays(point))}–${Math.max(...delays(point))} ms after sending`);
    const kills = launches.filter((launch) => launch.point !== 'not killed').length;
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
    console.log(`crash suite: restarts took ${median(restartMs)} ms (median), submits ${median(launches.map((launch) => launch.killedAfterMs ?? 0).filter(Boolean))} ms to the kill (median)`);
    console.log(`crash suite: ${launches.filter((launch) => launch.contended).length} of the kills during sbatch left a remote command waiting for the repository lock past the restart`);
    console.log(`crash suite (seed ${SEED}): ${kills} kills over ${LANES} servers in ${((Date.now() - started) / 1000).toFixed(1)} s; where the kills landed:\n${table.join('\n')}`);

    // What SLURM has from this suite, by the tag in each job's working directory (<workspace>/jobs/<tag>/code).
    const inSlurm = new Map<string, Map<string, string>>();
    const listing = onLab(lab!, `squeue -h -t all -u ${lab!.user} -o '%i|%Z|%T'; sacct -X -n -P -S now-1hour -u ${lab!.user} -o JobID,WorkDir,State`).stdout;
    for (const line of listing.split('\n')) {
      const [id, workDir, state] = line.split('|');
      const tag = new RegExp(`/${workspaceRoot}-\\d+/jobs/([a-z0-9]{12})/code$`).exec(workDir ?? '')?.[1];
      if (!tag || !id || !state) continue;
      if (!inSlurm.has(tag)) inSlurm.set(tag, new Map());
      // squeue first: while a job is in the queue its word is the current one.
      if (!inSlurm.get(tag)!.has(id)) inSlurm.get(tag)!.set(id, state);
    }

    const stored = new Map(lanes.flatMap(({ jobs }) => jobs.map((job) => [job.tag, job] as const)));
    for (const launch of launches) {
      const context = JSON.stringify({ ...launch, stored: stored.get(launch.tag), slurm: [...(inSlurm.get(launch.tag) ?? [])] });
      const job = stored.get(launch.tag);
      const slurm = [...(inSlurm.get(launch.tag) ?? new Map())];
      expect(slurm.length, `no duplicate in SLURM: ${context}`).toBeLessThanOrEqual(1);
      // A warm-up launch the cluster refused (a dropped connection) counts like a launch killed at that step.
      const refusedWarmUp = launch.point === 'not killed' && !launch.answered;
      if (!job) {
        // Killed before the insert: the launch never existed, so SLURM must not have it either.
        expect(launch.point === 'before the DB insert' || refusedWarmUp, context).toBe(true);
        expect(slurm, context).toEqual([]);
        continue;
      }
      expect(job.state, context).not.toBe('SUBMITTING');
      if (job.slurmJobId === null) {
        expect(job.state, context).toBe('SUBMIT_FAILED');
        expect(slurm, `a launch recorded as never submitted is not in SLURM: ${context}`).toEqual([]);
        expect(['between insert and sbatch', 'during sbatch', ...(refusedWarmUp ? ['not killed'] : [])], context).toContain(launch.point);
      } else {
        expect(slurm.map(([id]) => id), `the one SLURM job is the recorded one: ${context}`).toEqual([job.slurmJobId]);
        // Held: pending in SLURM, pending in the database.
        expect(slurm[0]![1], context).toBe('PENDING');
        expect(job.state, context).toBe('PENDING');
      }
      if (launch.point === 'after sbatch, before saving the id' || launch.point === 'after saving' || launch.answered) expect(job.slurmJobId, context).not.toBeNull();
    }
    expect([...stored.keys()].filter((tag) => !launches.some((launch) => launch.tag === tag)), 'rows nobody launched').toEqual([]);
    expect(kills).toBeGreaterThanOrEqual(50);
    for (const point of KILL_POINTS) expect(distribution[point], `kills ${point}`).toBeGreaterThan(0);

    // The recorded ids are the live ones: cancelled in SLURM, each record follows to CANCELLED.
    const ids = [...stored.values()].map((job) => job.slurmJobId).filter((id): id is string => id !== null);
    onLab(lab!, `scancel ${ids.join(' ')}`);
    await Promise.all(
      lanes.map(async ({ request, jobs }) => {
        for (const job of jobs.filter((candidate) => candidate.slurmJobId !== null)) {
          await expect
            .poll(async () => (await request()(`mutation($id: Int!) { refreshJob(id: $id) { ... on MutationRefreshJobSuccess { data { state } } ... on Error { message } } }`, { id: job.id })).refreshJob.data?.state, { timeout: 30_000, interval: 1000 })
            .toBe('CANCELLED');
        }
      }),
    );
  }, 600_000);
});

// Sweeps: one submission stores the sweep and every task (SUBMITTING, the submission's tag in the array's working
// directory) before its one sbatch --array. The server is killed at each step of a sweep's submission, and of a
// relaunch of its failed tasks, and restarted warm: afterwards SLURM has at most one array per submission directory,
// and every task of it is adopted as <array>_<index>, or all of them are SUBMIT_FAILED when SLURM never got it; the
// sweep shows what its tasks do and ends counted right. Tasks run (not held): a sweep must end as its runs did.
const SWEEP = 'id tag state arrayJobId retries endedAt counts { state count } runs { index task { id state slurmJobId submitError } }';
interface CrashedSweep {
  id: number;
  tag: string;
  state: string;
  arrayJobId: string | null;
  retries: number;
  endedAt: string | null;
  counts: Array<{ state: string; count: number }>;
  runs: Array<{ index: number; task: { id: number; state: string; slurmJobId: string | null; submitError: string | null } }>;
}
const countsOf = (sweep: CrashedSweep) => Object.fromEntries(sweep.counts.map(({ state, count }) => [state, count]));

describe.skipIf(!lab)('a sweep submission killed at each step', () => {
  const servers: Server[] = [];
  const workspace = `mc-crash-sweeps-${RUN}`;
  afterAll(async () => {
    for (const server of servers) server.child.kill('SIGKILL');
    for (const server of servers) await server.exited;
    onLab(lab!, `squeue -h -t all -u ${lab!.user} -o '%i|%Z' | awk -F'|' 'index($2, "/${workspace}/") { print $1 }' | xargs -r scancel; rm -rf ~/${workspace}`);
  });

  /** The job arrays (or jobs) SLURM has, queued or in accounting, whose working directory is this submission's. */
  function arraysOf(submissionTag: string): string[] {
    const listing = onLab(lab!, `squeue -h -t all -u ${lab!.user} -o '%i|%Z'; sacct -X -n -P -S now-1hour -u ${lab!.user} -o JobID,WorkDir`).stdout;
    const ours = listing.split('\n').filter((line) => line.split('|')[1] === `${home}/${workspace}/jobs/${submissionTag}/code`);
    return [...new Set(ours.map((line) => line.split('|')[0]!.replace(/_.*/, '')))];
  }
  let home = '';

  it('adopts every task of the one array SLURM got, or fails them all when it got none', async () => {
    const started = Date.now();
    home = onLab(lab!, 'printf %s "$HOME"').stdout;
    const repo = createFixtureRepo(lab!.user);
    const dir = mkdtempSync(join(tmpdir(), 'mc-crash-sweeps-'));
    const configPath = join(dir, 'clusters.yaml');
    writeFileSync(configPath, stringify({ clusters: { lab: { ...labClusterEntry(lab!), workspace: `~/${workspace}` } } }));
    const dataDir = join(dir, 'data');
    const trace = join(dir, 'submit-trace.txt');
    writeFileSync(trace, '');
    const token = await createTokenInDataDir(dataDir);
    const restart = serverLane(configPath, dataDir, await databaseArgs(dataDir), trace, servers);
    let server = await restart();
    const request = () => graphqlClient(server.url, token);
    const added = await request()(`mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id } } ... on Error { message } } }`, { path: repo.work });
    const projectId: number = added.addProject.data.id;
    const job = { projectId, cluster: 'lab', primary: 'train', memory: '100M', timeLimit: '2:00', parameters: [{ path: 'sleep_seconds', value: 1 }] };
    const submitSweep = (sweep: string[], tag: string) => () =>
      request()(`mutation($input: SweepInput!, $tag: String) { submitSweep(input: $input, tag: $tag) { __typename ... on Error { message } } }`, { input: { job, sweep }, tag });
    const relaunch = (id: number) => () => request()(`mutation($id: Int!) { relaunchFailedTasks(id: $id) { __typename ... on Error { message } } }`, { id });
    const sweeps = async () => (await request()<{ sweeps: { nodes: CrashedSweep[] } }>(`{ sweeps(first: 50) { nodes { ${SWEEP} } } }`)).sweeps.nodes;
    const sweepOf = async (tag: string) => (await sweeps()).find((sweep) => sweep.tag === tag);
    /** The sweep once the restart's lookup is over: no task SUBMITTING, and the sweep counted again (per burst). */
    const recovered = async (tag: string) => {
      let sweep: CrashedSweep | undefined;
      const submitting = (found: CrashedSweep) => [...found.runs.map((run) => run.task.state), ...found.counts.map((entry) => entry.state)].filter((state) => state === 'SUBMITTING').length;
      await expect.poll(async () => (sweep = await sweepOf(tag)) && submitting(sweep), { timeout: 30_000, interval: 200 }).toBe(0);
      return sweep!;
    };
    const ended = async (tag: string) => {
      let sweep: CrashedSweep | undefined;
      await expect.poll(async () => (sweep = await sweepOf(tag))?.endedAt ?? null, { timeout: 90_000, interval: 1000 }).not.toBeNull();
      return sweep!;
    };

    /**
     * Sends a submission and kills the server when it reports `step` (while it pauses there; `beforeKill` may wait
     * for more), then restarts it. The submission's tag, from the trace: for a relaunch the server makes it.
     */
    async function killAt(step: string, send: () => Promise<unknown>, { beforeKill, beforeRestart }: { beforeKill?: (tag: string) => Promise<void>; beforeRestart?: (tag: string) => void } = {}): Promise<string> {
      const from = readFileSync(trace, 'utf8').length;
      let answer: unknown = null;
      const sent = send().then((result) => (answer = result), (error: Error) => error.message);
      let tag: string | undefined;
      for (const deadline = Date.now() + 60_000; !(tag = new RegExp(`^(\\S+) ${step} `, 'm').exec(readFileSync(trace, 'utf8').slice(from))?.[1]); ) {
        if (answer !== null || Date.now() > deadline) throw new Error(`no ${step} reported; answered ${JSON.stringify(answer)}\n${server.output?.().slice(-3000)}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await beforeKill?.(tag);
      server.child.kill('SIGKILL');
      expect(await server.exited).toBe('SIGKILL');
      await sent;
      expect(answer, `the server answered before it was killed at ${step}`).toBeNull();
      beforeRestart?.(tag);
      server = await restart();
      return tag;
    }

    // Killed before anything was stored: no sweep, nothing in SLURM.
    const beforeInsert = newTag();
    await killAt('prepared', submitSweep(['seed=1,2'], beforeInsert));
    expect(await sweepOf(beforeInsert)).toBeUndefined();
    expect(arraysOf(beforeInsert)).toEqual([]);

    // Stored, sbatch not run: every task SUBMIT_FAILED, the sweep failed and ended, nothing in SLURM.
    const beforeSbatch = newTag();
    await killAt('stored', submitSweep(['seed=1,2,3'], beforeSbatch));
    const neverSubmitted = await recovered(beforeSbatch);
    expect(neverSubmitted.runs.map((run) => run.task.state)).toEqual(['SUBMIT_FAILED', 'SUBMIT_FAILED', 'SUBMIT_FAILED']);
    expect(neverSubmitted.runs.every((run) => run.task.slurmJobId === null && run.task.submitError)).toBe(true);
    expect(neverSubmitted).toMatchObject({ state: 'FAILED', arrayJobId: null, counts: [{ state: 'SUBMIT_FAILED', count: 3 }] });
    expect(neverSubmitted.endedAt).not.toBeNull();
    expect(arraysOf(beforeSbatch)).toEqual([]);

    // Killed while the remote submit script runs, held at the project's repository lock: the restart's lookup waits
    // for it (the launch's lock), the script goes on to sbatch once let go, and the lookup finds its array.
    const repoLock = `~/${workspace}/repos/ml-project-${projectId}.git.lock`;
    const holder = spawn('ssh', ['-i', lab!.identityFile, '-p', String(lab!.port), '-o', `UserKnownHostsFile=${lab!.knownHostsFile}`, '-o', 'BatchMode=yes', `${lab!.user}@${lab!.host}`, `mkdir -p ~/${workspace}/repos && flock ${repoLock} sh -c 'echo held; cat'`], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise((resolve) => holder.stdout!.once('data', resolve));
    const duringSbatch = newTag();
    await killAt('sbatch', submitSweep(['seed=1,2,3'], duringSbatch), {
      beforeKill: async (tag) => {
        await expect.poll(() => onLab(lab!, `test -e ~/${workspace}/jobs/${tag}/submit.lock`).status, { timeout: 10_000, interval: 100 }).toBe(0);
      },
    });
    // The lookup is waiting for the launch's lock (its `flock 8` holds the submission's submit.lock as fd 8).
    const lookupWaits = `for p in $(pgrep -u "$(id -un)" -x flock); do readlink /proc/$p/fd/8; done 2>/dev/null | grep -c /jobs/${duringSbatch}/submit.lock`;
    await expect.poll(() => onLab(lab!, lookupWaits).stdout.trim(), { timeout: 10_000, interval: 100 }).toBe('1');
    holder.stdin!.end();

    // Killed after sbatch answered, before the ids were saved; and the `submitted` file is gone too (as when the
    // remote script died before it was written), so the array is found by its working directory in the queue.
    const afterSbatch = newTag();
    await killAt('answered', submitSweep(['exit_code=0,0,3'], afterSbatch), {
      beforeRestart: (tag) => expect(onLab(lab!, `rm ~/${workspace}/jobs/${tag}/submitted`).status).toBe(0),
    });

    for (const [tag, size] of [[duringSbatch, 3], [afterSbatch, 3]] as const) {
      const sweep = await recovered(tag);
      const [array, ...more] = arraysOf(tag);
      expect(more, `one array for ${tag}`).toEqual([]);
      expect(sweep.runs.map((run) => run.task.slurmJobId)).toEqual(Array.from({ length: size }, (_, index) => `${array}_${index}`));
      // Adopted, so in one of the states of a live or ended task (COMPLETING: seen while SLURM ends a 1 s task on a
      // loaded machine; the CI run at d9387f4 failed here), never SUBMITTING or SUBMIT_FAILED.
      for (const run of sweep.runs) expect(run.task.state).toMatch(/^(PENDING|RUNNING|COMPLETING|COMPLETED|FAILED)$/);
      expect(sweep.arrayJobId, 'the sweep shows the array its tasks were adopted from').toBe(array);
      expect(sweep.state).toMatch(/^(PENDING|RUNNING|COMPLETED|COMPLETED_WITH_FAILURES)$/);
    }
    const completed = await ended(duringSbatch);
    expect(completed).toMatchObject({ state: 'COMPLETED', counts: [{ state: 'COMPLETED', count: 3 }] });
    const withFailure = await ended(afterSbatch);
    expect(withFailure.state).toBe('COMPLETED_WITH_FAILURES');
    expect(countsOf(withFailure)).toEqual({ COMPLETED: 2, FAILED: 1 });
    const failedTask = withFailure.runs[2]!.task;

    // Its failed task relaunched, killed before sbatch: the retry SUBMIT_FAILED, no array from the relaunch.
    const relaunchNotSubmitted = await killAt('stored', relaunch(withFailure.id));
    const afterFirstRelaunch = await recovered(afterSbatch);
    expect(afterFirstRelaunch.retries).toBe(1);
    expect(afterFirstRelaunch.runs[2]!.task).toMatchObject({ state: 'SUBMIT_FAILED', slurmJobId: null });
    expect(afterFirstRelaunch.runs[2]!.task.id).not.toBe(failedTask.id);
    expect(afterFirstRelaunch.runs.slice(0, 2)).toEqual(withFailure.runs.slice(0, 2));
    expect(afterFirstRelaunch.state).toBe('COMPLETED_WITH_FAILURES');
    expect(countsOf(afterFirstRelaunch)).toEqual({ COMPLETED: 2, SUBMIT_FAILED: 1 });
    expect(arraysOf(relaunchNotSubmitted)).toEqual([]);

    // Relaunched again, killed after sbatch answered: the retry adopted from the relaunch's one array, and it fails
    // again as it must (exit_code=3), counted as such.
    const relaunchAnswered = await killAt('answered', relaunch(withFailure.id));
    const afterSecondRelaunch = await recovered(afterSbatch);
    const [relaunchArray, ...moreRelaunchArrays] = arraysOf(relaunchAnswered);
    expect(moreRelaunchArrays).toEqual([]);
    expect(afterSecondRelaunch.retries).toBe(2);
    expect(afterSecondRelaunch.runs[2]!.task.slurmJobId).toBe(`${relaunchArray}_2`);
    expect(afterSecondRelaunch.arrayJobId, 'the first submission\'s array stays the sweep\'s').toBe(withFailure.arrayJobId);
    const endedAgain = await ended(afterSbatch);
    expect(endedAgain.runs[2]!.task.state).toBe('FAILED');
    expect(endedAgain.state).toBe('COMPLETED_WITH_FAILURES');
    expect(countsOf(endedAgain)).toEqual({ COMPLETED: 2, FAILED: 1 });

    // Never a second array, now that everything ended and accounting has it all.
    for (const tag of [beforeInsert, beforeSbatch, duringSbatch, afterSbatch, relaunchNotSubmitted, relaunchAnswered]) expect(arraysOf(tag).length, tag).toBeLessThanOrEqual(1);
    expect((await sweeps()).map((sweep) => sweep.tag).sort()).toEqual([beforeSbatch, duringSbatch, afterSbatch].sort());
    console.log(`crash suite (sweeps): 6 kills in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 300_000);
});
