// Real Hydra 1.3.2 as a test oracle: one long-lived /usr/bin/python3 running test/hydra/oracle.py with the vendored
// hydra-core on its PYTHONPATH, spoken to in JSON lines, so a suite of hundreds of compositions pays Python's start-up
// (about half a second with Hydra imported) once.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const PYTHON = '/usr/bin/python3';
export const HYDRA_VENDOR = fileURLToPath(new URL('../../../shared/vendor/hydra-core-1.3.2', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./oracle.py', import.meta.url));
const DEBIAN_PACKAGES = 'python3-omegaconf python3-antlr4 python3-packaging python3-yaml';

export interface ComposeRequest {
  /** Absolute path of the config directory (Hydra's config_path). */
  configDir: string;
  /** The primary, without .yaml; undefined composes with config_name=None as @hydra.main(config_path=…) alone does. */
  configName?: string;
  overrides?: string[];
  /** Directories put first on sys.path, e.g. the app's own directory for `pkg://` search paths. */
  sysPath?: string[];
  /** A Python file imported (not run as __main__) first: its module-level ConfigStore registrations take effect. */
  entry?: string;
  /** The entry script's `version_base`; null is Hydra's own default (1.1 behaviour); undefined is "1.3". */
  versionBase?: string | null;
}

/** One entry of Hydra's final defaults list (hydra.core.default_element.ResultDefault). */
export interface ResultDefault {
  config_path: string | null;
  package: string | null;
  parent: string | null;
  /** Set for a group default ("db", "db@destination"); null for plain configs and for items of a multi-valued default. */
  override_key: string | null;
  is_self: boolean;
  primary: boolean;
}

export type ComposeResult =
  | { ok: true; config: Record<string, unknown>; choices: Record<string, string | string[] | null>; defaults: ResultDefault[] }
  | { ok: false; error: string; errorType: string };

export type OverrideVerdict =
  | {
      override: string;
      ok: true;
      key: string;
      package: string | null;
      /** CHANGE, ADD (`+`), FORCE_ADD (`++`), DEL (`~`). */
      overrideType: 'CHANGE' | 'ADD' | 'FORCE_ADD' | 'DEL';
      /** ELEMENT, CHOICE_SWEEP, GLOB_CHOICE_SWEEP, SIMPLE_CHOICE_SWEEP, RANGE_SWEEP, INTERVAL_SWEEP; null for a bare `~key`. */
      valueType: string | null;
      /** The parsed value; sweeps and globs as { repr, python_type }. */
      value: unknown;
      /** Python's type name of the parsed value: int, float, str, bool, list, dict, NoneType, ChoiceSweep… */
      valuePythonType: string;
      valueText: string | null;
      isSweep: boolean;
    }
  | { override: string; ok: false; error: string; errorType: string };

export interface SweepRequest {
  overrides: string[];
  params?: Record<string, unknown> | null;
  groupOptions?: Record<string, string[]>;
}

export type SweepResult = { ok: true; runs: string[][] } | { ok: false; error: string; errorType: string };

export interface Availability {
  ok: boolean;
  /** What is missing and how to get it, when not ok. */
  reason: string;
}

let availability: Availability | undefined;

/** Whether real Hydra can run here: Debian's python3, its packages, and the vendored hydra-core. Checked once. */
export function available(): Availability {
  if (availability) return availability;
  const needs = `real Hydra needs ${PYTHON} with the Debian packages (apt-get install ${DEBIAN_PACKAGES}) and the vendored hydra-core at ${HYDRA_VENDOR}`;
  if (!existsSync(PYTHON)) return (availability = { ok: false, reason: `${PYTHON} is missing; ${needs}` });
  if (!existsSync(`${HYDRA_VENDOR}/hydra/__init__.py`)) return (availability = { ok: false, reason: `${HYDRA_VENDOR} is missing; ${needs}` });
  const probe = spawnSync(PYTHON, ['-c', 'import omegaconf, antlr4, packaging, yaml, hydra; print(hydra.__version__)'], {
    env: { ...process.env, PYTHONPATH: HYDRA_VENDOR },
    encoding: 'utf8',
    timeout: 20_000,
  });
  if (probe.status !== 0) {
    const why = (probe.stderr || probe.error?.message || '').trim().split('\n').at(-1) ?? 'no output';
    return (availability = { ok: false, reason: `importing Hydra failed (${why}); ${needs}` });
  }
  return (availability = { ok: true, reason: `Hydra ${probe.stdout.trim()}` });
}

type Reply = Record<string, unknown> & { id: number; ok: boolean };

/** One Python process; requests may overlap, answers come back in order and are matched by id. */
export class HydraOracle {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting = new Map<number, { resolve: (reply: Reply) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private stderr = '';
  private exited: Error | null = null;

  constructor() {
    const state = available();
    if (!state.ok) throw new Error(state.reason);
    this.child = spawn(PYTHON, [SCRIPT], { env: { ...process.env, PYTHONPATH: HYDRA_VENDOR, PYTHONDONTWRITEBYTECODE: '1' }, stdio: 'pipe' });
    // Kept short: only the tail explains a crash.
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      let reply: Reply;
      try {
        reply = JSON.parse(line) as Reply;
      } catch {
        this.fail(new Error(`the Hydra oracle wrote a line that is not JSON: ${line.slice(0, 200)}`));
        return;
      }
      const entry = this.waiting.get(reply.id);
      if (!entry) return;
      this.waiting.delete(reply.id);
      entry.resolve(reply);
    });
    this.child.on('exit', (code, signal) => this.fail(new Error(`the Hydra oracle exited (${signal ?? code}); its stderr ends with: ${this.stderr.slice(-1000)}`)));
    this.child.on('error', (error) => this.fail(error));
  }

  private fail(error: Error): void {
    this.exited ??= error;
    for (const entry of this.waiting.values()) entry.reject(error);
    this.waiting.clear();
  }

  private request(body: Record<string, unknown>): Promise<Reply> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.child.stdin.write(`${JSON.stringify({ ...body, id })}\n`);
    });
  }

  async compose(request: ComposeRequest): Promise<ComposeResult> {
    const reply = await this.request({
      op: 'compose',
      config_dir: request.configDir,
      config_name: request.configName ?? null,
      overrides: request.overrides ?? [],
      sys_path: request.sysPath ?? [],
      entry: request.entry ?? null,
      ...(request.versionBase === undefined ? {} : { version_base: request.versionBase }),
    });
    if (reply.ok) {
      return { ok: true, config: reply.config as Record<string, unknown>, choices: reply.choices as Record<string, string | string[] | null>, defaults: reply.defaults as ResultDefault[] };
    }
    return { ok: false, error: String(reply.error), errorType: String(reply.error_type) };
  }

  /** Hydra's OverridesParser verdict on each override, parsed one by one so one refusal does not hide the others. */
  async parse(overrides: string[]): Promise<OverrideVerdict[]> {
    const reply = await this.request({ op: 'parse', overrides });
    if (!reply.ok) throw new Error(`the Hydra oracle could not parse: ${String(reply.error)}`);
    return (reply.results as Record<string, unknown>[]).map((r): OverrideVerdict =>
      r.ok
        ? {
            override: String(r.override),
            ok: true,
            key: String(r.key),
            package: (r.package as string | null) ?? null,
            overrideType: r.override_type as 'CHANGE' | 'ADD' | 'FORCE_ADD' | 'DEL',
            valueType: (r.value_type as string | null) ?? null,
            value: r.value,
            valuePythonType: String(r.value_python_type),
            valueText: (r.value_text as string | null) ?? null,
            isSweep: Boolean(r.is_sweep),
          }
        : { override: String(r.override), ok: false, error: String(r.error), errorType: String(r.error_type) },
    );
  }

  /**
   * The runs Hydra's BasicSweeper makes of a sweep (split_arguments with max_batch_size None; nothing is launched):
   * `params` as hydra.sweeper.params, `groupOptions` what glob() sees of each config group.
   */
  async sweep(request: SweepRequest): Promise<SweepResult> {
    const reply = await this.request({ op: 'sweep', overrides: request.overrides, params: request.params ?? null, group_options: request.groupOptions ?? {} });
    if (reply.ok) return { ok: true, runs: reply.runs as string[][] };
    return { ok: false, error: String(reply.error), errorType: String(reply.error_type) };
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end();
    await gone;
  }
}

/**
 * Hydra's composed config as dotted leaves, the way readHydraConfig lists its parameters: mappings are spread into
 * their leaves (an empty one is a leaf `{}`), lists are leaves.
 */
export function flattenConfig(config: Record<string, unknown>, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  for (const [key, value] of Object.entries(config)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
      flattenConfig(value as Record<string, unknown>, path, out);
    } else {
      out.set(path, value);
    }
  }
  return out;
}
