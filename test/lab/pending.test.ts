// A job waiting behind a busy partition, followed by the real poller through the lab's real sshd: SLURM's expected
// start (the value `squeue --start` prints) and its reason in words reach GraphQL, and each poll is still ONE remote
// command with ONE squeue inside: the estimate is read from the squeue line the poll makes anyway.
// The gpu partition is filled with this suite's own sleeping jobs (cancelled at its end); other suites' GPU jobs may
// be there too, which only makes the wait longer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WRAPPERS_SCRIPT } from './slurm-call-wrappers.js';
import { initOrm, type Orm } from '../../server/db/orm.js';
import { createApp } from '../../server/http/app.js';
import { createServices, type Services } from '../../server/services.js';
import { createTransport } from '../../server/ssh/index.js';
import { createJobRow, insertProject, jobInput } from '../factories.js';
import { authHeaders, createTestToken } from '../graphql-client.js';
import { labClusterConfig, labForSuite, onLab } from './lab-env.js';

const lab = labForSuite('lab pending-job suite');

const NAME = `mc-pending-${process.pid}`;
const WRAP_DIR = `/tmp/${NAME}-wrappers`;
const quoted = (script: string) => `'${script.replaceAll("'", `'\\''`)}'`;

/** A sleeping job of this suite on the gpu partition; its SLURM id. */
function submit(gres: string, seconds: number): string {
  const { stdout, status } = onLab(lab!, `sbatch --parsable -J ${NAME} -p gpu --gres=gpu:${gres} -c 1 --mem=100M --time=3 -o /dev/null --wrap 'sleep ${seconds}'`);
  expect(status, stdout).toBe(0);
  return stdout.trim();
}

describe.skipIf(!lab)('a job waiting behind a busy partition', () => {
  let orm: Orm;
  let services: Services;
  let app: ReturnType<typeof createApp>;
  let token: string;
  let jobId: number;
  let slurmJobId: string;
  /** Every remote command the server ran, as its argv (inside the PATH wrapper). */
  const commands: string[][] = [];

  beforeAll(async () => {
    expect(onLab(lab!, `sh -c ${quoted(WRAPPERS_SCRIPT)} sh ${WRAP_DIR}`).status).toBe(0);
    // Every GPU of the partition taken for three minutes, then ours asks for two A100s.
    submit('a100:4', 170);
    submit('h100:2', 170);
    slurmJobId = submit('a100:2', 5);

    orm = await initOrm(':memory:');
    services = createServices({
      orm,
      config: { file: 'lab.yaml', clusters: [labClusterConfig(lab!)] },
      clusters: {
        transportFactory: (cluster) => {
          const inner = createTransport(cluster);
          return {
            // Our SLURM wrappers first on PATH: each squeue, sacct or scontrol the server's commands run is logged.
            exec: (argv, options) => {
              commands.push([...argv]);
              return inner.exec(['sh', '-c', 'PATH="$0:$PATH" exec "$@"', WRAP_DIR, ...argv], options);
            },
            stream: (argv, options) => inner.stream(argv, options),
            close: () => inner.close(),
          };
        },
      },
    });
    app = createApp({ services });
    token = await createTestToken(services);
    const em = orm.em.fork();
    const project = await insertProject(em);
    const row = createJobRow(em, { cluster: 'lab', state: 'PENDING', slurmJobId, projectId: project.id });
    row.input = jobInput(project.id, { cluster: 'lab', partition: 'gpu', gpusPerNode: 2, gpuType: 'a100' });
    await em.flush();
    jobId = row.id;
  });
  afterAll(async () => {
    onLab(lab!, `scancel -n ${NAME}; rm -rf ${WRAP_DIR}`);
    await services?.close();
    await orm?.close();
  });

  async function job() {
    const query = `query($id: Int!) { job(id: $id) { ... on QueryJobSuccess { data { state reason estimatedStartAt reasonExplained { reason summary action blocked known } } } } }`;
    const response = await app.yoga.fetch('http://mc.test/graphql', { method: 'POST', headers: { 'content-type': 'application/json', ...authHeaders(token) }, body: JSON.stringify({ query, variables: { id: jobId } }) });
    return ((await response.json()) as { data: { job: { data: any } } }).data.job.data;
  }

  /** What `squeue --start` prints for the job, in its own default format: its START_TIME column, as an instant. */
  function squeueStart(): number | null {
    const { stdout } = onLab(lab!, `SLURM_TIME_FORMAT=standard squeue --start -h -j ${slurmJobId}`);
    const text = stdout.trim().split(/\s+/)[5];
    return text && /^\d{4}-/.test(text) ? new Date(text).getTime() : null;
  }

  it("shows SLURM's expected start, as squeue --start prints it, and why it waits in words", async () => {
    // The backfill scheduler sets its estimate within one of its cycles (bf_interval, 30 s by default).
    let seen: any;
    await expect
      .poll(
        async () => {
          // A poll as the poller's tick runs it, driven here so that no other poll runs between the counts below.
          await services.poller.pollNow('lab');
          seen = await job();
          const start = squeueStart();
          return seen.reasonExplained !== null && seen.estimatedStartAt !== null && start !== null && Date.parse(seen.estimatedStartAt) === start;
        },
        { timeout: 90_000, interval: 1000 },
      )
      .toBe(true);
    expect(seen.state).toBe('PENDING');
    // Behind our own jobs: Resources, or Priority once SLURM has the job behind another that waits for them too.
    expect(['Resources', 'Priority']).toContain(seen.reason);
    expect(seen.reasonExplained).toMatchObject({ reason: seen.reason, blocked: false, known: true });
    if (seen.reason === 'Resources') expect(seen.reasonExplained.summary).toBe('waiting for 2 A100s');
    // Our sleeping jobs end within their 3-minute limit: the estimate is no later than that.
    expect(Date.parse(seen.estimatedStartAt)).toBeLessThanOrEqual(Date.now() + 3 * 60_000 + 5_000);
    console.log(`pending suite: job ${slurmJobId} ${seen.reason}, estimated start ${seen.estimatedStartAt} (squeue --start says the same); "${seen.reasonExplained.summary}"`);
  });

  it('costs no more than a poll did: ONE remote command per tick with ONE squeue inside, never squeue --start', async () => {
    const polls = (list: string[][]) => list.filter((argv) => argv[0] === 'sh' && argv[2]?.includes('squeue -h -t all'));
    onLab(lab!, `: > ${WRAP_DIR}/calls`);
    const from = commands.length;
    for (let tick = 0; tick < 3; tick++) await services.poller.pollNow('lab');
    const window = commands.slice(from);
    const calls = onLab(lab!, `cat ${WRAP_DIR}/calls`).stdout.split('\n').filter(Boolean);
    expect((await job()).state).toBe('PENDING');
    expect(polls(window)).toHaveLength(3);
    // Every remote command of the window was a poll, and each ran exactly one squeue (the job is in the queue: no
    // accounting), however many jobs wait.
    expect(window.length).toBe(polls(window).length);
    expect(calls.filter((program) => program === 'squeue').length).toBe(polls(window).length);
    expect(calls.filter((program) => program !== 'squeue')).toEqual([]);
    expect(window.some((argv) => argv.join(' ').includes('--start'))).toBe(false);
    console.log(`pending suite: 3 polls, ${window.length} remote commands, SLURM calls inside: ${calls.join(', ')}`);
  });
});
