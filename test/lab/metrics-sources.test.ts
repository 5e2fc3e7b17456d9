// Where a job's training curves come from (issue 16), checked on the lab while a real job runs, launched over GraphQL
// as the phone does: the fixture's progress bar postfix in output.log, metrics.csv and a TensorBoard event file
// growing in its Hydra output directory, and the job script's GPU sampler file per node (the lab's stand-in
// nvidia-smi). What the server reads from them is the metrics domain's own suite; here the sources themselves.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGpuSamples } from '../../server/metrics/gpu-samples.js';
import { startServer } from '../../server/main.js';
import { createTestToken, graphqlClient } from '../graphql-client.js';
import { createFixtureRepo } from './fixture-repo.js';
import { labClustersYaml, labForSuite, onLab } from './lab-env.js';

const lab = labForSuite('lab metrics sources suite');

// ------------------------------------------------------------------------------------------------ TFRecord, by spec
// CRC32C (Castagnoli, reflected 0x82F63B78), bit by bit: independent of the fixture's table-driven one.
function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
const masked = (crc: number) => ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;

interface TfEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  scalars: Array<{ tag: string; value: number }>;
}

/** Protobuf fields of a message: number → raw values (varints as numbers, fixed as their bytes, delimited as bytes). */
function fields(bytes: Buffer): Array<{ field: number; wire: number; value: Buffer | number }> {
  const out: Array<{ field: number; wire: number; value: Buffer | number }> = [];
  let at = 0;
  const varint = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = bytes[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (!(byte & 0x80)) return value;
    }
  };
  while (at < bytes.length) {
    const key = varint();
    const wire = key & 7;
    const field = Math.floor(key / 8);
    if (wire === 0) out.push({ field, wire, value: varint() });
    else if (wire === 1) out.push({ field, wire, value: bytes.subarray(at, (at += 8)) });
    else if (wire === 5) out.push({ field, wire, value: bytes.subarray(at, (at += 4)) });
    else if (wire === 2) {
      const length = varint();
      out.push({ field, wire, value: bytes.subarray(at, (at += length)) });
    } else throw new Error(`wire type ${wire}`);
  }
  return out;
}

/** Every record of an event file, each CRC checked (tensorflow/core/lib/io/record_writer.cc), decoded as an Event. */
function readEventFile(file: Buffer): TfEvent[] {
  const events: TfEvent[] = [];
  let at = 0;
  while (at < file.length) {
    const length = Number(file.readBigUInt64LE(at));
    expect(file.readUInt32LE(at + 8), `length CRC of the record at ${at}`).toBe(masked(crc32c(file.subarray(at, at + 8))));
    const data = file.subarray(at + 12, at + 12 + length);
    expect(file.readUInt32LE(at + 12 + length), `data CRC of the record at ${at}`).toBe(masked(crc32c(data)));
    at += 16 + length;
    const event: TfEvent = { wallTime: 0, step: 0, scalars: [] };
    for (const { field, value } of fields(data)) {
      if (field === 1) event.wallTime = (value as Buffer).readDoubleLE(0);
      else if (field === 2) event.step = value as number;
      else if (field === 3) event.fileVersion = (value as Buffer).toString('utf8');
      else if (field === 5) {
        for (const summaryValue of fields(value as Buffer).filter((entry) => entry.field === 1)) {
          const parts = fields(summaryValue.value as Buffer);
          event.scalars.push({ tag: (parts.find((part) => part.field === 1)!.value as Buffer).toString('utf8'), value: (parts.find((part) => part.field === 2)!.value as Buffer).readFloatLE(0) });
        }
      }
    }
    events.push(event);
  }
  expect(at).toBe(file.length);
  return events;
}

// ------------------------------------------------------------------------------------------------ the job's files
interface CsvRow {
  epoch: number;
  step: number;
  train_loss?: number;
  val_acc?: number;
  val_loss?: number;
}

const HEADER = 'epoch,step,train_loss,val_acc,val_loss';

/** The CSV with Python's csv module's \r\n line ends, as Lightning's CSVLogger writes them. */
function readCsv(text: string): CsvRow[] {
  expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  const [header, ...lines] = text.split('\r\n').filter((line) => line !== '');
  expect(header).toBe(HEADER);
  return lines.map((line) => {
    const [epoch, step, ...cells] = line.split(',');
    const row: CsvRow = { epoch: Number(epoch), step: Number(step) };
    ['train_loss', 'val_acc', 'val_loss'].forEach((name, index) => {
      if (cells[index] !== '') (row as unknown as Record<string, number>)[name] = Number(cells[index]);
    });
    return row;
  });
}

const POSTFIX_BAR = /Epoch (\d+): +\d+%\|[█ ]+\| (\d+)\/5 \[\d+\.\ds, \d+\.\d\dit\/s, loss=([^,\]]+)(?:, val_acc=([^\]]+))?\]/g;

describe.skipIf(!lab)('metric sources of a job on the lab', () => {
  let running: Awaited<ReturnType<typeof startServer>>;
  let request: ReturnType<typeof graphqlClient>;
  let projectId: number;

  const lastLine = (text: string, prefix: string) => text.split('\n').find((line) => line.startsWith(prefix))?.slice(prefix.length);
  const onLabBytes = (path: string) => Buffer.from(onLab(lab!, `base64 -w0 '${path}' 2>/dev/null`).stdout, 'base64');
  const onLabText = (path: string) => onLab(lab!, `cat '${path}' 2>/dev/null`).stdout;

  async function submit(input: Record<string, unknown>) {
    const data = await request(`mutation($input: JobInput!) { submitJob(input: $input) { __typename ... on MutationSubmitJobSuccess { data { id tag } } ... on Error { message } } }`, { input });
    if (data.submitJob.__typename !== 'MutationSubmitJobSuccess') throw new Error(`submitJob: ${JSON.stringify(data.submitJob)}`);
    return data.submitJob.data as { id: number; tag: string };
  }

  async function refresh(id: number) {
    const data = await request(`mutation($id: Int!) { refreshJob(id: $id) { ... on MutationRefreshJobSuccess { data { state exitCode nodeList } } ... on Error { message } } }`, { id });
    return data.refreshJob.data as { state: string; exitCode: number | null; nodeList: string | null };
  }

  async function waitForState(id: number, states: string[], timeout = 90_000) {
    let job: Awaited<ReturnType<typeof refresh>> | undefined;
    await expect.poll(async () => (job = await refresh(id)).state, { timeout, interval: 1000 }).toSatisfy((state: string) => states.includes(state));
    return job!;
  }

  beforeAll(async () => {
    const repo = createFixtureRepo(lab!.user);
    // Samples every 2 s instead of 30 (the job script's knob, through the project's env like any variable).
    const settings = readFileSync(join(repo.work, '.mlops-config.yaml'), 'utf8').replace('env:\n', 'env:\n  MC_GPU_SAMPLE_SECONDS: 2\n');
    repo.commit('Sample GPUs every 2 s', { '.mlops-config.yaml': settings });
    const dir = mkdtempSync(join(tmpdir(), 'mc-metrics-sources-'));
    writeFileSync(join(dir, 'clusters.yaml'), labClustersYaml(lab!));
    running = await startServer({ configPath: join(dir, 'clusters.yaml'), dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', dev: false });
    request = graphqlClient(running.url, await createTestToken(running.services));
    const added = await request(`mutation($path: String!) { addProject(localPath: $path) { ... on MutationAddProjectSuccess { data { id settings { metrics { path format } } } } ... on Error { message } } }`, { path: repo.work });
    expect(added.addProject.data.settings.metrics).toEqual([
      { path: 'metrics.csv', format: 'csv' },
      { path: 'tb/events.out.tfevents.*', format: 'tfevents' },
    ]);
    projectId = added.addProject.data.id;
  });
  afterAll(async () => {
    await running?.stop();
  });

  it('shows the postfix in the log, a growing metrics.csv and event file, and GPU samples while the job runs; the same numbers in all three', async () => {
    const job = await submit({ projectId, cluster: 'lab', primary: 'train', memory: '200M', timeLimit: '5:00', cpusPerTask: 1, gpusPerNode: 1, gpuType: 'a100', parameters: [{ path: 'sleep_seconds', value: 24 }, { path: 'epochs', value: 3 }, { path: 'nan_at_step', value: 13 }] });
    const jobDir = `/home/${lab!.user}/mission-control/jobs/${job.tag}`;
    const { nodeList } = await waitForState(job.id, ['RUNNING', 'COMPLETED', 'FAILED']);
    expect(nodeList).toBe('gpu-a100');

    // While it runs: the bar's postfix, then the files, read twice to see them grow.
    let log = '';
    await expect.poll(() => (log = onLabText(`${jobDir}/output.log`)), { timeout: 30_000, interval: 500 }).toMatch(/loss=\d/);
    expect(log).toMatch(/Epoch 1: +\d+%\|[█ ]+\| \d\/5 \[\d+\.\ds, \d+\.\d\dit\/s, loss=\d\.\d+\]/);
    const outputDir = lastLine(log, 'output dir: ')!;
    expect(outputDir).toMatch(new RegExp(`^${jobDir}/code/outputs/\\d{4}-\\d\\d-\\d\\d/\\d\\d-\\d\\d-\\d\\d$`));
    const csvEarly = readCsv(onLabText(`${outputDir}/metrics.csv`));
    const eventFile = onLab(lab!, `ls ${outputDir}/tb/`).stdout.trim();
    expect(eventFile).toMatch(/^events\.out\.tfevents\.\d{10}\.[^.]+.*\.\d+\.0$/);
    const eventsEarly = readEventFile(onLabBytes(`${outputDir}/tb/${eventFile}`));
    const gpuFile = `${jobDir}/gpu/gpu-a100.csv`;
    await expect.poll(() => parseGpuSamples(Buffer.from(onLabText(gpuFile)), null).points.length, { timeout: 15_000, interval: 500 }).toBeGreaterThanOrEqual(3);
    expect((await refresh(job.id)).state).toBe('RUNNING');
    await expect.poll(() => readCsv(onLabText(`${outputDir}/metrics.csv`)).length, { timeout: 15_000, interval: 500 }).toBeGreaterThan(csvEarly.length);
    await expect.poll(() => readEventFile(onLabBytes(`${outputDir}/tb/${eventFile}`)).length, { timeout: 15_000, interval: 500 }).toBeGreaterThan(eventsEarly.length);
    expect((await refresh(job.id)).state).toBe('RUNNING');

    const done = await waitForState(job.id, ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT']);
    expect(done).toMatchObject({ state: 'COMPLETED', exitCode: 0 });

    // The CSV as Lightning's CSVLogger writes it: a row per step, a validation row per epoch, empty cells elsewhere.
    const rows = readCsv(onLabText(`${outputDir}/metrics.csv`));
    const train = rows.filter((row) => row.train_loss !== undefined);
    const validation = rows.filter((row) => row.val_acc !== undefined);
    expect(train.map((row) => row.step)).toEqual(Array.from({ length: 15 }, (_, index) => index + 1));
    expect(train.map((row) => row.epoch)).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
    expect(validation.map((row) => [row.epoch, row.step])).toEqual([[0, 5], [1, 10], [2, 15]]);
    expect(rows.every((row) => (row.train_loss === undefined) !== (row.val_acc === undefined))).toBe(true);
    // It learns, then diverges at nan_at_step.
    const losses = train.map((row) => row.train_loss!);
    for (let step = 1; step < 12; step++) expect(losses[step]!, `step ${step + 1}`).toBeLessThan(losses[step - 1]!);
    expect(losses.slice(12).every(Number.isNaN)).toBe(true);
    expect(validation.map((row) => row.val_acc)).toEqual([expect.any(Number), expect.any(Number), Number.NaN]);
    expect(validation[1]!.val_acc!).toBeGreaterThan(validation[0]!.val_acc!);

    // The event file: every CRC checked by readEventFile; the same values as the CSV (float32).
    const events = readEventFile(onLabBytes(`${outputDir}/tb/${eventFile}`));
    expect(events[0]).toMatchObject({ step: 0, fileVersion: 'brain.Event:2', scalars: [] });
    const scalars = events.flatMap((event) => event.scalars.map((scalar) => ({ ...scalar, step: event.step, wallTime: event.wallTime })));
    const tfLoss = scalars.filter((scalar) => scalar.tag === 'train/loss');
    expect(tfLoss.map((scalar) => scalar.step)).toEqual(train.map((row) => row.step));
    tfLoss.forEach((scalar, index) => (Number.isNaN(losses[index]) ? expect(scalar.value).toBeNaN() : expect(scalar.value).toBeCloseTo(losses[index]!, 5)));
    expect(scalars.filter((scalar) => scalar.tag === 'val/acc').map((scalar) => scalar.step)).toEqual([5, 10, 15]);
    expect(scalars.filter((scalar) => scalar.tag === 'val/loss').map((scalar) => scalar.step)).toEqual([5, 10, 15]);
    expect(scalars.every((scalar) => Math.abs(scalar.wallTime * 1000 - Date.now()) < 300_000)).toBe(true);

    // The log's postfix: each step's loss to 3 significant digits, val_acc once validated.
    log = onLabText(`${jobDir}/output.log`);
    const bars = [...log.matchAll(POSTFIX_BAR)].map((match) => ({ epoch: Number(match[1]), n: Number(match[2]), loss: Number(match[3]), valAcc: match[4] === undefined ? undefined : Number(match[4]) }));
    const perStep = bars.filter((bar, index) => index === 0 || bars[index - 1]!.n !== bar.n || bars[index - 1]!.epoch !== bar.epoch);
    expect(perStep).toHaveLength(15);
    perStep.forEach((bar, index) => (Number.isNaN(losses[index]) ? expect(bar.loss).toBeNaN() : expect(Math.abs(bar.loss - losses[index]!)).toBeLessThanOrEqual(0.005 * losses[index]!)));
    expect(perStep.slice(0, 5).every((bar) => bar.valAcc === undefined)).toBe(true);
    expect(Math.abs(perStep[5]!.valAcc! - validation[0]!.val_acc!)).toBeLessThan(0.005);

    // GPU samples: the one a100 of the job, busy, each line a sample; the sampler ended with the job.
    const gpuText = onLabText(gpuFile);
    const samples = parseGpuSamples(Buffer.from(gpuText), null).points;
    expect(new Set(samples.map((point) => point.name))).toEqual(new Set(['gpu0.utilization', 'gpu0.memory_used_mib', 'gpu0.memory_total_mib']));
    const utilization = samples.filter((point) => point.name === 'gpu0.utilization');
    expect(utilization.length).toBeGreaterThanOrEqual(8);
    expect(utilization.every((point) => point.value >= 85 && point.value <= 99)).toBe(true);
    expect(samples.filter((point) => point.name === 'gpu0.memory_total_mib').every((point) => point.value === 40960)).toBe(true);
    expect(Math.abs(utilization.at(-1)!.time - Date.now())).toBeLessThan(60_000);
    await new Promise((resolve) => setTimeout(resolve, 5000));
    expect(onLabText(gpuFile)).toBe(gpuText);
  }, 180_000);

  it('samples every node of a job on several nodes into its own file', async () => {
    const job = await submit({ projectId, cluster: 'lab', partition: 'gpu', primary: 'train', nodes: 2, memory: '200M', timeLimit: '5:00', cpusPerTask: 1, gpusPerNode: 1, parameters: [{ path: 'sleep_seconds', value: 6 }, { path: 'epochs', value: 1 }] });
    const done = await waitForState(job.id, ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT']);
    const jobDir = `/home/${lab!.user}/mission-control/jobs/${job.tag}`;
    expect(done.state, onLabText(`${jobDir}/output.log`).slice(-2000)).toBe('COMPLETED');
    expect(onLab(lab!, `ls ${jobDir}/gpu`).stdout.trim().split('\n').sort()).toEqual(['gpu-a100.csv', 'gpu-h100.csv']);
    for (const [node, total] of [['gpu-a100', 40960], ['gpu-h100', 81559]] as const) {
      const points = parseGpuSamples(Buffer.from(onLabText(`${jobDir}/gpu/${node}.csv`)), null, { node }).points;
      expect(points.length, node).toBeGreaterThanOrEqual(3);
      expect(points.find((point) => point.name === `${node}/gpu0.memory_total_mib`)?.value).toBe(total);
    }
  }, 120_000);

  it("has the lab's stand-in nvidia-smi on the job's PATH, idle on demand", () => {
    expect(onLab(lab!, 'command -v nvidia-smi').stdout.trim()).toBe(`${lab!.stateDir}/bin/nvidia-smi`);
    expect(onLab(lab!, 'SLURMD_NODENAME=gpu-h100 nvidia-smi -L').stdout).toMatch(/^GPU 0: NVIDIA H100 80GB HBM3 \(UUID: GPU-[0-9a-f-]+\)\nGPU 1: /);
    const idle = onLab(lab!, 'MC_FAKE_GPU_UTILIZATION=3 nvidia-smi --query-gpu=timestamp,index,utilization.gpu,memory.used,memory.total --format=csv,noheader,nounits');
    expect(parseGpuSamples(Buffer.from(idle.stdout), null).points.filter((point) => point.name.endsWith('.utilization')).map((point) => point.value)).toEqual([3, 3]);
    // The lab-wide file, on a copy of the stand-in laid out as in the state directory (the lab's own is shared).
    const state = mkdtempSync(join(tmpdir(), 'mc-fake-gpu-'));
    mkdirSync(join(state, 'bin'));
    mkdirSync(join(state, 'gpu'));
    cpSync(join(lab!.stateDir, 'bin/nvidia-smi'), join(state, 'bin/nvidia-smi'));
    writeFileSync(join(state, 'gpu/utilization'), '4\n');
    const query = spawnSync(join(state, 'bin/nvidia-smi'), ['--query-gpu=index,utilization.gpu', '--format=csv,noheader'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', CUDA_VISIBLE_DEVICES: '0,1,2' } });
    expect(query.stdout).toBe('0, 4 %\n1, 4 %\n2, 4 %\n');
  });
});
