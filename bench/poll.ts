// Poll cost against the number of tracked jobs: N = 10, 100, 1000 real jobs on the lab (mostly held or pending,
// a few finished), one tick of our poll (pollJobs over the kept-open ssh2 connection) beside one cycle of what
// the original tool did (a new connection, then per job `squeue -j ID` and, when that is empty, `sacct -j ID`).
import { readFileSync } from 'node:fs';
import { Client } from 'ssh2';
import type { Bench, Figure } from './bench.js';
import { kB } from './bench.js';
import { requireLab } from './lab-server.js';
import { countingProxy, emptyTraffic, labRun, loadAverage, median, meteredTransport, ms, RUN_ID, seconds, slurmctldRpcsOf, WRAPPERS_SCRIPT, type Traffic } from './support.js';
import { pollJobs, statusLookup } from '../server/slurm/poll.js';
import { createSsh2Transport } from '../server/ssh/ssh2-transport.js';
import { labClusterConfig, type Lab } from '../test/lab/lab-env.js';

// MC_BENCH_POLL_LEVELS=10,100 for a quick run while developing.
const LEVELS = (process.env.MC_BENCH_POLL_LEVELS ?? '10,100,1000').split(',').map(Number);
// Then a sweep's case: one held array of this many tasks (MC_BENCH_POLL_ARRAY=0 skips it) beside the first 100 jobs.
const ARRAY_TASKS = Number(process.env.MC_BENCH_POLL_ARRAY ?? 1000);
const ARRAY_SINGLES = 100;
const OUR_TICKS = 5;
const RATIO_GOAL = 50;
const JOB_NAME = `${RUN_ID}-poll`;
const RPC_PROGRAMS = ['squeue', 'sacct', 'scontrol'];

// One remote command submits them all: first the few that finish at once, then pending (start an hour from now)
// and held ones. Each is a real, individual sbatch.
const SUBMIT_SCRIPT = `name=$1 finishing=$2 pending=$3 held=$4
sub() { sbatch --parsable -J "$name" -p cpu --mem=10M --time=1 -o /dev/null "$@" --wrap=true || exit 1; }
i=0; while [ $i -lt "$finishing" ]; do sub; i=$((i + 1)); done
i=0; while [ $i -lt "$pending" ]; do sub --begin=now+1hour; i=$((i + 1)); done
i=0; while [ $i -lt "$held" ]; do sub --hold; i=$((i + 1)); done`;

interface Sample {
  commands: number;
  rpcCommands: number;
  ctldRpcs: number | null;
  payloadBytes: number;
  wireBytes: number;
  connections: number;
  ms: number;
}

/** Of N jobs: 5 % (at least one) finish at once, 25 % pending, the rest held. */
const mix = (count: number) => (count === 0 ? { finishing: 0, pending: 0 } : { finishing: Math.max(1, Math.round(count * 0.05)), pending: Math.round(count * 0.25) });

const rpcCommandsOf = (traffic: Traffic) => RPC_PROGRAMS.reduce((sum, program) => sum + (traffic.byProgram.get(program) ?? 0), 0);

/** A plain ssh2 connection, as the original tool opened one per cycle. */
function connect(lab: Lab, port: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.once('ready', () => resolve(client)).once('error', reject);
    client.connect({ host: lab.host, port, username: lab.user, privateKey: readFileSync(lab.identityFile), readyTimeout: 30_000 });
  });
}

function run(client: Client, command: string): Promise<{ stdout: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, channel) => {
      if (error) return reject(error);
      const chunks: Buffer[] = [];
      let bytes = 0;
      channel.on('data', (chunk: Buffer) => chunks.push(chunk));
      channel.stderr.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      channel.on('close', () => {
        const stdout = Buffer.concat(chunks);
        resolve({ stdout: stdout.toString('utf8'), bytes: bytes + stdout.length + Buffer.byteLength(command) });
      });
    });
  });
}

/** What the original tool did each cycle: a new connection, then per job one squeue and, when empty, one sacct. */
async function baselineCycle(lab: Lab, port: number, ids: string[]) {
  const traffic = emptyTraffic();
  const client = await connect(lab, port);
  let known = 0;
  const count = async (program: string, id: string) => {
    traffic.commands++;
    traffic.byProgram.set(program, (traffic.byProgram.get(program) ?? 0) + 1);
    const result = await run(client, `${program} -j ${id}`);
    traffic.receivedBytes += result.bytes;
    return result.stdout;
  };
  try {
    for (const id of ids) {
      // The header alone (or "Invalid job id" on stderr) means the queue no longer shows it: ask accounting.
      if ((await count('squeue', id)).trim().split('\n').length > 1) {
        known++;
        continue;
      }
      if ((await count('sacct', id)).split('\n').some((line) => line.trim().startsWith(`${id} `))) known++;
    }
  } finally {
    client.end();
  }
  return { traffic, known };
}

function summarize(samples: Sample[]): Sample {
  const pick = (key: keyof Sample) => {
    const values = samples.map((sample) => sample[key]).filter((value): value is number => value !== null);
    return values.length ? median(values) : null;
  };
  return {
    commands: pick('commands')!,
    rpcCommands: pick('rpcCommands')!,
    ctldRpcs: pick('ctldRpcs'),
    payloadBytes: pick('payloadBytes')!,
    wireBytes: pick('wireBytes')!,
    connections: pick('connections')!,
    ms: pick('ms')!,
  };
}

const bench: Bench = {
  title: 'Poll cost vs tracked jobs (ours vs the original per-job loop)',
  async run() {
    const lab = requireLab();
    const proxy = await countingProxy(lab.host, lab.port);
    // Ours: the poller's kept-open ssh2 connection, through the byte-counting proxy.
    const ours = meteredTransport(createSsh2Transport(labClusterConfig(lab, { port: proxy.port, hostKeyFingerprint: lab.hostKeyFingerprint, commandTimeoutMs: 120_000 })));
    const wrapDir = `/tmp/${RUN_ID}-wrappers`;
    const ids: string[] = [];
    const rows: Array<Array<string | number>> = [];
    const results: Array<{ n: number; ours: Sample; baseline: Sample; baselineCycles: number; inside: Map<string, number>; queued: number }> = [];
    const loads: string[] = [];
    let arrayResult: { singles: number; tracked: number; ours: Sample; inside: Map<string, number>; queued: number } | null = null;
    try {
      await labRun(lab, `sh -c '${WRAPPERS_SCRIPT.replaceAll("'", `'\\''`)}' sh ${wrapDir}`);
      await pollJobs(ours.transport, []);
      ours.take();
      await proxy.take();

      for (const n of LEVELS) {
        // Top the queue up to N of our jobs: 5 % finished, 25 % pending, the rest held.
        const add = n - ids.length;
        const finishing = mix(n).finishing - mix(ids.length).finishing;
        const pending = mix(n).pending - mix(ids.length).pending;
        const held = add - finishing - pending;
        const submitted = (await labRun(lab, `sh -c '${SUBMIT_SCRIPT.replaceAll("'", `'\\''`)}' sh ${JOB_NAME} ${finishing} ${pending} ${held}`, { timeoutMs: 600_000 }))
          .split('\n')
          .filter(Boolean)
          .map((line) => line.split(';')[0]!);
        if (submitted.length !== add) throw new Error(`submitted ${submitted.length} of ${add} jobs`);
        ids.push(...submitted);
        const finishingIds = submitted.slice(0, finishing);
        for (let waited = 0; ; waited += 1000) {
          const running = (await labRun(lab, `squeue -h -o %i -j ${finishingIds.join(',')} 2>/dev/null || true`)).trim();
          if (!running) break;
          if (waited > 120_000) throw new Error(`jobs that should finish at once are still queued after 2 minutes: ${running.split('\n').length}`);
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }

        // What our one command runs inside: the same tick through PATH wrappers that log each SLURM command.
        const counted = await pollJobs({ ...ours.transport, exec: (argv, options) => ours.transport.exec(['sh', '-c', 'PATH="$0:$PATH" exec "$@"', wrapDir, ...argv], options) }, ids);
        const inside = new Map<string, number>();
        for (const program of (await labRun(lab, `cat ${wrapDir}/calls; : > ${wrapDir}/calls`)).split('\n').filter(Boolean)) inside.set(program, (inside.get(program) ?? 0) + 1);
        const seen = new Set([...counted.queue.map((job) => job.slurmJobId), ...counted.finished.map((job) => job.slurmJobId)]);
        const missing = ids.filter((id) => !seen.has(id));
        if (missing.length) throw new Error(`our poll did not report ${missing.length} of ${n} jobs (e.g. ${missing.slice(0, 3).join(', ')})`);
        ours.take();
        await proxy.take();

        const ourSamples: Sample[] = [];
        for (let tick = 0; tick < OUR_TICKS; tick++) {
          const rpcsBefore = await slurmctldRpcsOf(lab.user);
          const started = performance.now();
          await pollJobs(ours.transport, ids);
          const elapsed = performance.now() - started;
          const rpcsAfter = await slurmctldRpcsOf(lab.user);
          const traffic = ours.take();
          const wire = await proxy.take();
          ourSamples.push({
            commands: traffic.commands,
            rpcCommands: [...inside.entries()].filter(([program]) => RPC_PROGRAMS.includes(program)).reduce((sum, [, count]) => sum + count, 0),
            ctldRpcs: rpcsBefore === null || rpcsAfter === null ? null : rpcsAfter - rpcsBefore,
            payloadBytes: traffic.sentBytes + traffic.receivedBytes,
            wireBytes: wire.total,
            connections: wire.connections,
            ms: elapsed,
          });
        }

        // Full cycles of the baseline (one takes a minute or two at N = 1000, so only one there).
        const baselineCycles = n >= 1000 ? 1 : n >= 100 ? 2 : 3;
        const baselineSamples: Sample[] = [];
        for (let cycle = 0; cycle < baselineCycles; cycle++) {
          const rpcsBefore = await slurmctldRpcsOf(lab.user);
          const started = performance.now();
          const { traffic, known } = await baselineCycle(lab, proxy.port, ids);
          const elapsed = performance.now() - started;
          const rpcsAfter = await slurmctldRpcsOf(lab.user);
          const wire = await proxy.take();
          if (known !== n) console.warn(`baseline cycle at N=${n} found ${known} of ${n} jobs`);
          baselineSamples.push({
            commands: traffic.commands,
            rpcCommands: rpcCommandsOf(traffic),
            ctldRpcs: rpcsBefore === null || rpcsAfter === null ? null : rpcsAfter - rpcsBefore,
            payloadBytes: traffic.sentBytes + traffic.receivedBytes,
            wireBytes: wire.total,
            connections: wire.connections,
            ms: elapsed,
          });
        }
        const result = { n, ours: summarize(ourSamples), baseline: summarize(baselineSamples), baselineCycles, inside, queued: counted.queue.length };
        results.push(result);
        loads.push(`N=${n}: ${loadAverage()}`);
        console.log(`N=${n}: ours ${ms(result.ours.ms)}, baseline ${ms(result.baseline.ms)} (load ${loadAverage()})`);
      }

      if (ARRAY_TASKS > 0) {
        // Held, so squeue folds all its tasks into one line, as it folds a running sweep's pending rest.
        const arrayId = (await labRun(lab, `sbatch --parsable -J ${JOB_NAME} -p cpu --mem=10M --time=1 -o /dev/null --array=0-${ARRAY_TASKS - 1}%64 --hold --wrap=true`)).trim().split(';')[0]!;
        const tracked = [...ids.slice(0, ARRAY_SINGLES), ...Array.from({ length: ARRAY_TASKS }, (_, index) => `${arrayId}_${index}`)];
        const counted = await pollJobs({ ...ours.transport, exec: (argv, options) => ours.transport.exec(['sh', '-c', 'PATH="$0:$PATH" exec "$@"', wrapDir, ...argv], options) }, tracked);
        const inside = new Map<string, number>();
        for (const program of (await labRun(lab, `cat ${wrapDir}/calls; : > ${wrapDir}/calls`)).split('\n').filter(Boolean)) inside.set(program, (inside.get(program) ?? 0) + 1);
        const statusOf = statusLookup(counted);
        const missing = tracked.filter((id) => statusOf(id) === undefined);
        if (missing.length) throw new Error(`our poll did not report ${missing.length} of ${tracked.length} jobs and tasks (e.g. ${missing.slice(0, 3).join(', ')})`);
        ours.take();
        await proxy.take();
        const samples: Sample[] = [];
        for (let tick = 0; tick < OUR_TICKS; tick++) {
          const started = performance.now();
          await pollJobs(ours.transport, tracked);
          const elapsed = performance.now() - started;
          const traffic = ours.take();
          const wire = await proxy.take();
          samples.push({ commands: traffic.commands, rpcCommands: [...inside.entries()].filter(([program]) => RPC_PROGRAMS.includes(program)).reduce((sum, [, count]) => sum + count, 0), ctldRpcs: null, payloadBytes: traffic.sentBytes + traffic.receivedBytes, wireBytes: wire.total, connections: wire.connections, ms: elapsed });
        }
        arrayResult = { singles: tracked.length - ARRAY_TASKS, tracked: tracked.length, ours: summarize(samples), inside, queued: counted.queue.length };
        console.log(`array: ${ARRAY_TASKS} tasks + ${arrayResult.singles} jobs, ours ${ms(arrayResult.ours.ms)}, ${kB(arrayResult.ours.payloadBytes)}`);
      }
    } finally {
      await labRun(lab, `scancel -u ${lab.user} -n ${JOB_NAME}; rm -rf ${wrapDir}`).catch((error: unknown) => console.error(`cleanup: ${(error as Error).message}`));
      await ours.transport.close();
      await proxy.close();
    }

    for (const { n, ours: o, baseline: b, baselineCycles, inside } of results) {
      const insideText = [...inside.entries()].map(([program, count]) => `${count} ${program}`).join(' + ');
      rows.push([n, 'ours', o.commands, `${o.rpcCommands} (${insideText})`, o.ctldRpcs ?? 'n/a', kB(o.payloadBytes), kB(o.wireBytes), o.connections, ms(o.ms), OUR_TICKS]);
      rows.push([n, 'baseline', b.commands, b.rpcCommands, b.ctldRpcs ?? 'n/a', kB(b.payloadBytes), kB(b.wireBytes), b.connections, b.ms >= 10_000 ? seconds(b.ms) : ms(b.ms), baselineCycles]);
    }
    if (arrayResult) {
      const { ours: o, inside } = arrayResult;
      const insideText = [...inside.entries()].map(([program, count]) => `${count} ${program}`).join(' + ');
      rows.push([`${ARRAY_TASKS} tasks + ${arrayResult.singles}`, 'ours', o.commands, `${o.rpcCommands} (${insideText})`, 'n/a', kB(o.payloadBytes), kB(o.wireBytes), o.connections, ms(o.ms), OUR_TICKS]);
    }
    const most = Math.max(...results.map((result) => result.ours.commands));
    const top = results.at(-1)!;
    const ratio = top.baseline.ms / top.ours.ms;
    const figures: Figure[] = [
      { label: 'ours: remote commands per cluster per tick (N = 10, 100, 1000)', value: results.map((result) => result.ours.commands).join(', '), goal: '≤ 1 at every N', met: most <= 1 },
      { label: `tick time baseline / ours at N = ${top.n}`, value: `${ratio.toFixed(0)}× (${seconds(top.baseline.ms)} vs ${ms(top.ours.ms)})`, goal: `≥ ${RATIO_GOAL}×`, met: ratio >= RATIO_GOAL },
      { label: `SLURM RPC-issuing commands per tick at N = ${top.n}, baseline / ours`, value: `${top.baseline.rpcCommands} / ${top.ours.rpcCommands}` },
      { label: `slurmctld RPCs per tick at N = ${top.n} (sdiag), baseline / ours`, value: top.baseline.ctldRpcs === null || top.ours.ctldRpcs === null ? 'n/a' : `${top.baseline.ctldRpcs} / ${top.ours.ctldRpcs}` },
      { label: `bytes on the wire per tick at N = ${top.n}, baseline / ours`, value: `${(top.baseline.wireBytes / top.ours.wireBytes).toFixed(1)}× (${kB(top.baseline.wireBytes)} vs ${kB(top.ours.wireBytes)})` },
    ];
    if (arrayResult) {
      figures.push(
        { label: `ours: remote commands per tick with a ${ARRAY_TASKS}-task array + ${arrayResult.singles} single jobs`, value: String(arrayResult.ours.commands), goal: '≤ 1', met: arrayResult.ours.commands <= 1 },
        { label: `tick time and payload with a ${ARRAY_TASKS}-task array + ${arrayResult.singles} single jobs`, value: `${ms(arrayResult.ours.ms)}, ${kB(arrayResult.ours.payloadBytes)} (${arrayResult.queued} queue lines)` },
      );
    }
    return {
      figures,
      tables: [
        {
          columns: ['N', 'who', 'remote commands', 'SLURM RPC-issuing commands', 'slurmctld RPCs (sdiag)', 'payload bytes', 'wire bytes', 'new SSH connections', 'tick time (median)', 'ticks measured'],
          rows,
        },
      ],
      notes: [
        `Jobs: real, individual sbatch submissions in one remote command per level (5 % finished at once, 25 % pending with --begin an hour ahead, the rest held), cancelled at the end. Every tick accounts for all N jobs (checked).`,
        `Ours: pollJobs over the poller's kept-open ssh2 connection; the commands inside our one remote command were counted through PATH wrappers in a separate tick. Baseline: a new ssh2 connection per cycle, then sequentially per job \`squeue -j ID\` and, when that shows no job, \`sacct -j ID\`; measured in full, never extrapolated (${results.map((result) => `${result.baselineCycles} cycle(s) at N = ${result.n}`).join(', ')}).`,
        'Payload bytes: command lines + stdin + stdout + stderr. Wire bytes: both directions through a counting TCP proxy in front of the lab sshd (SSH handshake, encryption and framing included). slurmctld RPCs: the user\'s count in `sdiag` before and after (sacct talks to slurmdbd and is not in it); other sessions using the lab as the same user can add to it.',
        `Our squeue lists every job of the lab user, including other sessions' jobs on this shared lab: ${results.map((result) => `${result.queued} at N = ${result.n}`).join(', ')}.`,
        `Load average (1/5/15 min) after each level: ${loads.join('; ')}.`,
        ...(arrayResult ? [`Array row: one real \`sbatch --array=0-${ARRAY_TASKS - 1}%64 --hold\` (every task pending, so squeue folds them into one line) tracked task by task ("arrayJobId_index") beside the first ${arrayResult.singles} jobs; every one of the ${arrayResult.tracked} answered (checked); no baseline and no sdiag count for this row.`] : []),
      ],
    };
  },
};

export default bench;
