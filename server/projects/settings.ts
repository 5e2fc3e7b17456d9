// A project's launch settings from `.mlops-config.yaml` in its repository (the original tool's keys, plus what
// users asked for). Missing file → the documented defaults; a bad file → a ValidationError naming the key.
import { z } from 'zod';
import { LRUCache } from 'lru-cache';
import { type AppError, ProjectFileError, ValidationError } from '../errors.js';
import { OverrideParseError, parseOverride } from './hydra/overrides.js';
import { loadProjectFile, parseProjectYaml, projectRoot } from './files.js';
import { readInWorker } from './reader.js';

export const SETTINGS_FILE = '.mlops-config.yaml';

const plainName = z.string().regex(/^[A-Za-z0-9._+-]+$/, 'may contain only letters, digits, . _ + -');
const relativePath = z
  .string()
  .regex(/^[A-Za-z0-9._\/+-]+$/, 'must be a relative path of letters, digits, . _ + - /')
  .refine((path) => !path.startsWith('/') && !path.split('/').includes('..'), 'must stay inside the repository');

/** The formats a metric file can be read in (server/metrics/). */
export const METRIC_FILE_FORMATS = ['log', 'csv', 'jsonl', 'tfevents'] as const;
export type MetricFileFormat = (typeof METRIC_FILE_FORMATS)[number];
export const MAX_METRIC_FILES = 20;
const MAX_METRIC_PATH = 256;

// Globbed on the cluster, in a remote script that gets it as an argument: `*` and `?` only, no brace or tilde
// expansion, and nothing that would leave the run's directory.
const metricPath = z
  .string()
  .max(MAX_METRIC_PATH, `must be at most ${MAX_METRIC_PATH} characters`)
  .regex(/^[A-Za-z0-9._\/*?+-]+$/, 'must be a relative glob of letters, digits, . _ + - / * ?')
  .refine((path) => !path.startsWith('/') && !path.split('/').includes('..'), 'must stay inside the run directory');

const settingsSchema = z.strictObject({
  /** Conda environment activated before the run. */
  conda_env: plainName.nullable().default(null),
  /** Virtualenv (path on the cluster, `~` allowed) activated instead of conda. */
  venv: z.string().regex(/^(~\/)?[A-Za-z0-9._\/+-]+$/, 'must be a path of letters, digits, . _ + - /').nullable().default(null),
  /** The training entry point, relative to the repository root. */
  train_script: relativePath.default('train.py'),
  /** The Hydra config directory, relative to the repository root, when neither @hydra.main's config_path nor conf/, configs/, config/ finds it. */
  config_dir: relativePath.nullable().default(null),
  /** Interpreter that runs train_script: a command on the cluster's PATH, or an absolute path (/usr/bin/python3). */
  python: z.string().regex(/^(?:[A-Za-z0-9._+-]+|(?:\/[A-Za-z0-9._+-]+)+)$/, 'must be a command name or an absolute path of letters, digits, . _ + -').default('python'),
  /** `pip install -e .` in the job's checkout before training. */
  install_editable: z.boolean().default(false),
  package_name: plainName.nullable().default(null),
  /** Hydra overrides applied to every launch before the user's own. */
  default_overrides: z.array(z.string()).default([]),
  /** `module load` lines, e.g. cuda/12.1. */
  modules: z.array(z.string().regex(/^[A-Za-z0-9._\/+-]+$/, 'is not a module name')).default([]),
  /** Environment variables exported in the job, e.g. WANDB_PROJECT. */
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'is not an environment variable name'), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
  /** Extra shell lines run before training. They come from the project's own repository and are shown in the preview. */
  setup: z.union([z.string().transform((text) => text.split('\n').filter((line) => line.trim() !== '')), z.array(z.string())]).default([]),
  /**
   * Files the training writes metrics to, read while the job runs: globs relative to the run's Hydra output
   * directory (e.g. `metrics.csv` from Lightning's CSVLogger, `tb/events.out.tfevents.*`).
   */
  metrics: z
    .array(z.strictObject({ path: metricPath, format: z.enum(METRIC_FILE_FORMATS, { error: `must be one of ${METRIC_FILE_FORMATS.join(', ')}` }) }))
    .max(MAX_METRIC_FILES, `must list at most ${MAX_METRIC_FILES} files`)
    .default([]),
});

export type ProjectSettings = z.infer<typeof settingsSchema>;

export const defaultSettings: ProjectSettings = settingsSchema.parse({});

/** A refused file (a limit passed, a link out of the repository…) as the ValidationError addProject answers with. */
function settingsFileError(error: ProjectFileError): ValidationError {
  return new ValidationError(SETTINGS_FILE, `${error.line === null ? '' : `line ${error.line}: `}${error.reason}`);
}

export function parseSettings(text: string): ProjectSettings {
  let parsedYaml;
  try {
    parsedYaml = parseProjectYaml(text, SETTINGS_FILE);
  } catch (error) {
    if (error instanceof ProjectFileError) throw settingsFileError(error);
    throw error;
  }
  const { document } = parsedYaml;
  const yamlError = document.errors[0];
  if (yamlError) {
    const line = yamlError.linePos?.[0]?.line;
    throw new ValidationError(SETTINGS_FILE, `invalid YAML${line ? ` at line ${line}` : ''}: ${yamlError.message.split('\n')[0]}`);
  }
  let value: unknown;
  try {
    // Aliases are already bounded by parseProjectYaml; yaml's own count (its default) stays as a second guard.
    value = document.toJS();
  } catch (error) {
    throw new ValidationError(SETTINGS_FILE, `invalid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  const parsed = settingsSchema.safeParse(value ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    // An unknown key inside an entry (metrics.0.every) is named with the entry's path.
    const key = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys.join(', ')].join('.') : issue.path.join('.');
    const message = issue.code === 'unrecognized_keys' ? 'unknown key' : issue.message;
    throw new ValidationError(key ? `${SETTINGS_FILE}: ${key}` : SETTINGS_FILE, key ? message : 'must be a mapping of settings');
  }
  parsed.data.default_overrides.forEach((token, index) => {
    try {
      parseOverride(token);
    } catch (error) {
      if (error instanceof OverrideParseError) throw new ValidationError(`${SETTINGS_FILE}: default_overrides.${index}`, error.message);
      throw error;
    }
  });
  return parsed.data;
}

/** The settings of the repository at `repoRoot`, read in the project-reader worker (server/projects/reader.ts). */
export function readSettings(repoRoot: string): Promise<ProjectSettings> {
  return readInWorker<ProjectSettings>('settings', [repoRoot], [ValidationError], (reason) => new ValidationError(SETTINGS_FILE, `reading it ${reason}`));
}

// A settings file is a dozen lines; 64 KiB leaves room for long `setup` scripts. Read by every composition of the
// launch form and every preview: parsed once per version of the file (path, inode, mtime, size).
const SETTINGS_MAX_BYTES = 64 * 1024;
const parsedSettings = new LRUCache<string, { value: ProjectSettings } | { error: AppError }>({ maxSize: 4 * 1024 * 1024 });

/** readSettings in this thread: what the worker runs. */
export async function readSettingsHere(repoRoot: string): Promise<ProjectSettings> {
  try {
    return (await loadProjectFile(await projectRoot(repoRoot), SETTINGS_FILE, { maxBytes: SETTINGS_MAX_BYTES, parse: parseSettings, cache: parsedSettings })) ?? defaultSettings;
  } catch (error) {
    if (error instanceof ProjectFileError) throw settingsFileError(error);
    throw error;
  }
}
