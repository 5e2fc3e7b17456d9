// Logs: a 1 GB output file full of tqdm-style progress bars on the lab. The app's job-log query (the last screen)
// timed over HTTP with the bytes it costs on the SSH wire and to the phone; then the jobLog subscription's
// live-tail latency for lines appended to that file.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { Bench, Figure } from './bench.js';
import { kB, percentile } from './bench.js';
import { requireLab } from './lab-server.js';
import { countingProxy, createJobRow, labRun, median, meteredTransport, ms, OWNER_ID, RUN_ID, seconds, sleep } from './support.js';
import { createApp } from '../server/http/app.js';
import { initOrm } from '../server/db/orm.js';
import { createServices } from '../server/services.js';
import { jobPaths } from '../server/slurm/layout.js';
import { createTransport } from '../server/ssh/index.js';
import { labClusterConfig } from '../test/lab/lab-env.js';

const FILE_BYTES = 2 ** 30;
const VIEWS = 5;
const APPENDS = 10;
const SCREEN_LINES = 40;
const TIME_GOAL_MS = 1000;
const BYTES_GOAL = 256 * 1024;

// The app's job-log query, as client/src/api/jobs.ts sends it (server defaults: 256 kB tail, bars collapsed).
const JOB_LOG = `query JobLog($id: Int!) { job(id: $id) { __typename ... on QueryJobSuccess { data { log { __typename ... on JobLogSuccess { data { text sizeBytes truncated wandbUrl } } ... on Error { message } } } } ... on Error { message } } }`;

// A training run's output: a header with the W&B link, then epochs of 1,000 carriage-return updates of a tqdm bar
// (~95 bytes each) closed by a newline and a metrics line, until the file holds 1 GiB; it ends mid-epoch, as a
// running job's output does. One epoch is formatted once; later ones only change the epoch number (fast).
const GENERATOR = `import sys
path, target = sys.argv[1], int(sys.argv[2])
steps = 1000
def bar(step):
    filled = 20 * step // steps
    rate = 41.7 + (step % 7) / 10
    left = (steps - step) / rate
    return "\\rEpoch @@@@@: %3d%%|%s%s| %d/%d [%02d:%02d<%02d:%02d, %.2fit/s, loss=%.4f]" % (
        100 * step // steps, "\\u2588" * filled, " " * (20 - filled), step, steps, (step / rate) // 60, (step / rate) % 60,
        left // 60, left % 60, rate, 2.5 / (1 + step / 100))
epoch = "".join(bar(step) for step in range(1, steps + 1)).encode()
metrics = b"\\nepoch @@@@@: train_loss=0.4183 val_loss=0.5121 val_acc=0.8734 lr=0.000300\\n"
with open(path, "wb", buffering=1 << 22) as out:
    out.write(b"mission-control: job bench on gpu-a100\\nconfig: train\\nwandb: \\xf0\\x9f\\x9a\\x80 View run at https://wandb.ai/ml-team/resnet/runs/b3nch1ogs\\n")
    written, number = out.tell(), 0
    while written < target:
        number += 1
        tag = b"%5d" % number
        block = epoch.replace(b"@@@@@", tag) + metrics.replace(b"@@@@@", tag)
        if written + len(block) > target:
            out.write(block[: max(0, target - written)])
            break
        out.write(block)
        written += len(block)
print(number)`;

const bench: Bench = {
  title: 'Logs: the last screen of a 1 GB progress-bar log, and live-tail latency',
  async run() {
    const lab = requireLab();
    const proxy = await countingProxy(lab.host, lab.port);
    const config = labClusterConfig(lab, { port: proxy.port, hostKeyFingerprint: lab.hostKeyFingerprint });
    const metered = meteredTransport(createTransport(config));
    const orm = await initOrm(':memory:');
    const services = createServices({ orm, config: { file: 'bench', clusters: [config] }, clusters: { transportFactory: () => metered.transport } });
    const app = createApp({ services, access: { allowWithoutToken: true } });
    const url = await app.start(0, '127.0.0.1');
    const home = (await labRun(lab, 'printf %s "$HOME"')).trim();
    const jobDir = `${home}/${RUN_ID}-logs`;
    const output = jobPaths(jobDir).output;
    const ws = createClient({ url: `${url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
    const figures: Figure[] = [];
    const rows: Array<Array<string | number>> = [];
    const notes: string[] = [];
    try {
      const generateStarted = performance.now();
      const epochs = (await labRun(lab, `mkdir -p ${jobDir} && python3 -c '${GENERATOR.replaceAll("'", `'\\''`)}' ${output} ${FILE_BYTES}`, { timeoutMs: 300_000 })).trim();
      const generateMs = performance.now() - generateStarted;
      const fileBytes = Number((await labRun(lab, `stat -c %s ${output}`)).trim());

      const em = orm.em.fork();
      const job = createJobRow(em, { cluster: 'lab', state: 'RUNNING', slurmJobId: '999999', jobDir });
      await em.flush();

      // Open the cluster connection first, as the running server has it open.
      await services.clusters.testConnection('lab', OWNER_ID);
      metered.take();
      await proxy.take();

      const views: Array<{ ms: number; wire: number; payload: number; commands: number; response: number; lines: number; text: string; truncated: boolean; wandbUrl: string | null }> = [];
      for (let view = 0; view < VIEWS; view++) {
        const started = performance.now();
        const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: JOB_LOG, variables: { id: job.id } }) });
        const body = await response.text();
        const elapsed = performance.now() - started;
        const log = (JSON.parse(body) as { data: { job: { data: { log: { __typename: string; data?: { text: string; truncated: boolean; wandbUrl: string | null }; message?: string } } } } }).data.job.data.log;
        if (!log.data) throw new Error(`job log: ${log.__typename}: ${log.message}`);
        const traffic = metered.take();
        const wire = await proxy.take();
        views.push({
          ms: elapsed,
          wire: wire.total,
          payload: traffic.sentBytes + traffic.receivedBytes,
          commands: traffic.commands,
          response: Buffer.byteLength(body),
          lines: log.data.text.split('\n').filter(Boolean).length,
          text: log.data.text,
          truncated: log.data.truncated,
          wandbUrl: log.data.wandbUrl,
        });
      }
      const [first, ...later] = views;
      const warm = {
        ms: median(later.map((view) => view.ms)),
        wire: median(later.map((view) => view.wire)),
        payload: median(later.map((view) => view.payload)),
        commands: median(later.map((view) => view.commands)),
        response: median(later.map((view) => view.response)),
        lines: median(later.map((view) => view.lines)),
      };
      rows.push(['first view (also reads the head once for the W&B link)', ms(first!.ms), first!.commands, kB(first!.payload), kB(first!.wire), kB(first!.response), first!.lines]);
      rows.push([`later views (median of ${later.length})`, ms(warm.ms), warm.commands, kB(warm.payload), kB(warm.wire), kB(warm.response), warm.lines]);

      const lastLine = first!.text.trimEnd().split('\n').at(-1) ?? '';
      figures.push(
        { label: 'last screen (the app\'s job-log query) over HTTP, first view / later views', value: `${ms(first!.ms)} / ${ms(warm.ms)}`, goal: `< ${seconds(TIME_GOAL_MS)}`, met: first!.ms < TIME_GOAL_MS && warm.ms < TIME_GOAL_MS },
        { label: 'bytes from the cluster (SSH wire), first view / later views', value: `${kB(first!.wire)} / ${kB(warm.wire)}`, goal: `< ${kB(BYTES_GOAL)}`, met: first!.wire < BYTES_GOAL && warm.wire < BYTES_GOAL },
        { label: 'bytes to the phone (HTTP body), later views', value: kB(warm.response), goal: `< ${kB(BYTES_GOAL)}`, met: warm.response < BYTES_GOAL },
        { label: `lines on the last screen (of ${SCREEN_LINES} a phone shows)`, value: `${first!.lines} / ${warm.lines}`, goal: `≥ ${SCREEN_LINES}`, met: first!.lines >= SCREEN_LINES && warm.lines >= SCREEN_LINES },
      );
      notes.push(
        `The file: ${(fileBytes / 2 ** 30).toFixed(2)} GiB written on the lab by a Python generator in ${seconds(generateMs)}: ${epochs} epochs of 1,000 tqdm-style carriage-return updates (~95 bytes each) closed by a newline and a metrics line, ending mid-epoch; removed at the end.`,
        `The query is the app's (client/src/api/jobs.ts), with the server's default 256 kB bound: one remote command (server/slurm/jobs.ts readOutputScreen) measures the file with \`stat\`, reads its end by offset with \`tail -c +N | head -c\` and cuts each line at its last progress redraw with a fixed awk script, reading back 4× further each round (256 kB, 1 MiB, 4 MiB, … at most 16 MiB) until it has ${SCREEN_LINES} lines; the server strips ANSI and collapses what remains (plus, the first time, 64 kB of the head to find the W&B link). ${first!.truncated ? 'The answer says truncated.' : ''} W&B link found: ${first!.wandbUrl ?? 'none'}. Its last line: \`${lastLine.slice(0, 90)}\`.`,
        `What the bytes are: each epoch of bar redraws (~95 kB in the file) crosses the wire as its last state, ~100 bytes, so the screen costs a few kB; the time is the cluster reading ~5 MB of the file's end in three rounds.`,
      );

      // Live tail: the jobLog subscription starts with the last 64 kB, then each appended line.
      const chunks: Array<{ at: number; text: string }> = [];
      const subscribed = performance.now();
      const stop = ws.subscribe<{ jobLog: { text: string } }>(
        { query: 'subscription($id: Int!) { jobLog(jobId: $id) { ... on JobLogChunk { fromByte text } } }', variables: { id: job.id } },
        { next: (value) => chunks.push({ at: performance.timeOrigin + performance.now(), text: value.data!.jobLog.text }), error: (error) => console.error('jobLog:', error), complete: () => undefined },
      );
      // The remote tail starts within a second or two; a tail holding no newline yet sends nothing (see notes).
      await sleep(2000);
      const beforeAppends = chunks.length;
      const latencies: number[] = [];
      for (let append = 0; append < APPENDS; append++) {
        const marker = `${RUN_ID}-line-${append}`;
        // The line carries the moment it was written, to the nanosecond, from the lab's clock (this machine's).
        await labRun(lab, `printf '\\n%s written at %s\\n' ${marker} "$(date +%s.%N)" >> ${output}`);
        for (let waited = 0; ; waited += 10) {
          const chunk = chunks.find((candidate) => candidate.text.includes(marker));
          if (chunk) {
            const writtenAt = Number(new RegExp(`${marker} written at (\\d+\\.\\d+)`).exec(chunk.text)![1]) * 1000;
            latencies.push(chunk.at - writtenAt);
            break;
          }
          if (waited > 10_000) throw new Error(`line ${marker} did not reach the jobLog subscriber within 10 s`);
          await sleep(10);
        }
        await sleep(300);
      }
      stop();
      figures.push({ label: `live tail: appended line → jobLog subscriber, p50 / max of ${APPENDS}`, value: `${ms(percentile(latencies, 50))} / ${ms(Math.max(...latencies))}` });
      const firstChunk = chunks[0]!;
      rows.push([
        `live tail: first jobLog chunk (the last 64 kB, then new lines)${beforeAppends === 0 ? ', sent only with the first appended line' : ''}`,
        ms(firstChunk.at - performance.timeOrigin - subscribed),
        '',
        '',
        '',
        kB(Buffer.byteLength(firstChunk.text)),
        firstChunk.text.split('\n').filter(Boolean).length,
      ]);
      if (beforeAppends === 0) {
        notes.push('A subscriber to a job whose last 64 kB holds no newline (a progress bar in the middle of an epoch) gets nothing until the job writes one: the live log held a line back until it ends, so the bar\'s current state is never shown live.');
      }
      notes.push(
        `Live tail: one \`tail -F\` per job over the open connection; output is sent at most every 250 ms (FLUSH_MS), which bounds the latency from below. Each line was appended by a separate ssh command and stamped with \`date +%s.%N\` as it was written; latencies ${latencies.map((value) => Math.round(value)).join(', ')} ms.`,
      );
    } finally {
      await ws.dispose();
      await app.stop();
      await services.close();
      await orm.close();
      await proxy.close();
      await labRun(lab, `rm -rf ${jobDir}`).catch((error: unknown) => console.error(`cleanup: ${(error as Error).message}`));
    }
    return {
      figures,
      tables: [{ columns: ['read', 'time', 'remote commands', 'payload from/to the cluster', 'SSH wire bytes', 'HTTP body', 'lines shown'], rows }],
      notes,
    };
  },
};

export default bench;
