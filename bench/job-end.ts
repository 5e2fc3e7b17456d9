// Job end → subscriber: real jobs on the lab, launched through a real server whose poll interval is 60 s; the time
// from each job's exit (the sub-second mtime of the end record its own script writes) to the jobUpdated event a
// graphql-ws subscriber receives.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { Bench } from './bench.js';
import { percentile } from './bench.js';
import { startLabServer } from './lab-server.js';
import { labRun, ms, sleep } from './support.js';
import { TERMINAL_STATES, type JobState } from '../server/slurm/state.js';

const JOBS = 15;
const POLL_INTERVAL_SECONDS = 60;
const P50_GOAL_MS = 2000;

interface Update {
  at: number;
  state: JobState;
}

const bench: Bench = {
  title: 'Job end → subscriber (poll interval 60 s)',
  async run() {
    const server = await startLabServer({ clusterOptions: { pollIntervalSeconds: POLL_INTERVAL_SECONDS } });
    const ws = createClient({ url: `${server.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
    const updates = new Map<number, Update[]>();
    const tags = new Map<number, string>();
    const jobDirs: string[] = [];
    try {
      const home = (await labRun(server.lab, 'printf %s "$HOME"')).trim();
      const stop = ws.subscribe<{ jobUpdated: { id: number; state: JobState } }>(
        { query: 'subscription($projectId: Int) { jobUpdated(projectId: $projectId) { id state exitCode } }', variables: { projectId: server.projectId } },
        {
          next: (value) => {
            const job = value.data!.jobUpdated;
            updates.set(job.id, [...(updates.get(job.id) ?? []), { at: performance.timeOrigin + performance.now(), state: job.state }]);
          },
          error: (error) => console.error('jobUpdated:', error),
          complete: () => undefined,
        },
      );
      await sleep(300);
      // Ends spread out: each job sleeps a second longer than the one before.
      for (let index = 0; index < JOBS; index++) {
        const submitted = await server.request(
          `mutation($input: JobInput!) { submitJob(input: $input) { ... on MutationSubmitJobSuccess { data { id tag } } ... on Error { message } } }`,
          { input: { projectId: server.projectId, cluster: 'lab', primary: 'train', memory: '200M', timeLimit: '5:00', parameters: [{ path: 'sleep_seconds', value: 3 + index }] } },
        );
        if (!submitted.submitJob.data) throw new Error(`submitJob: ${submitted.submitJob.message}`);
        tags.set(submitted.submitJob.data.id, submitted.submitJob.data.tag);
        // The default workspace, ~/mission-control.
        jobDirs.push(`${home}/mission-control/jobs/${submitted.submitJob.data.tag}`);
      }
      const ended = () => [...tags.keys()].filter((id) => updates.get(id)?.some((update) => TERMINAL_STATES.has(update.state)));
      for (let waited = 0; ended().length < JOBS; waited += 500) {
        if (waited > 180_000) throw new Error(`only ${ended().length} of ${JOBS} jobs were reported ended within 3 minutes`);
        await sleep(500);
      }
      stop();

      // Each job's exit: its script's end record, renamed into place as the script exits; mtime to the nanosecond.
      const stamps = new Map(
        (await labRun(server.lab, `for dir in ${jobDirs.join(' ')}; do printf '%s %s\\n' "$dir" "$(stat -c %.9Y "$dir/events/finished")"; done`))
          .split('\n')
          .filter(Boolean)
          .map((line) => line.split(' ') as [string, string]),
      );
      const firstEnd: number[] = [];
      const confirmed: number[] = [];
      const rows: Array<Array<string | number>> = [];
      for (const [id, tag] of tags) {
        const dir = jobDirs.find((candidate) => candidate.endsWith(`/${tag}`))!;
        const exitedAt = Number(stamps.get(dir)) * 1000;
        const list = updates.get(id)!;
        const end = list.find((update) => update.state === 'COMPLETING' || TERMINAL_STATES.has(update.state))!;
        const final = list.find((update) => TERMINAL_STATES.has(update.state))!;
        firstEnd.push(end.at - exitedAt);
        confirmed.push(final.at - exitedAt);
        rows.push([id, list.map((update) => update.state).join(' → '), ms(end.at - exitedAt), `${final.state} after ${ms(final.at - exitedAt)}`]);
      }
      const p50 = percentile(firstEnd, 50);
      return {
        figures: [
          { label: `job exit → first jobUpdated saying it ended, p50 / p95 (${JOBS} jobs)`, value: `${ms(p50)} / ${ms(percentile(firstEnd, 95))}`, goal: `p50 ≤ ${ms(P50_GOAL_MS)}`, met: p50 <= P50_GOAL_MS },
          { label: 'job exit → jobUpdated with the final state from SLURM, p50 / p95', value: `${ms(percentile(confirmed, 50))} / ${ms(percentile(confirmed, 95))}` },
          { label: 'the original, polling every 30 s', value: 'up to 30 s (15 s on average)' },
        ],
        tables: [{ columns: ['job', 'states received', 'exit → first end event', 'exit → final state'], rows }],
        notes: [
          `${JOBS} jobs of the fixture project submitted through GraphQL (sleep_seconds 3…${2 + JOBS}), the server's poll interval at ${POLL_INTERVAL_SECONDS} s, so ends come from the jobs' lifecycle files (a remote loop reading them once a second over the open connection) and the early poll they trigger.`,
          `The exit moment is the mtime (ns) of events/finished, which the job script's EXIT trap writes and renames as it exits; the subscriber's clock and the lab's are this machine's.`,
        ],
      };
    } finally {
      await ws.dispose();
      await server.stop();
      if (jobDirs.length) await labRun(server.lab, `rm -rf ${jobDirs.join(' ')}`).catch(() => undefined);
    }
  },
};

export default bench;
