// A project's launch settings from `.mlops-config.yaml` in its repository (the original tool's keys, plus what
// users asked for). Missing file → the documented defaults; a bad file → a ValidationError naming the key.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ValidationError } from './errors.js';
import { OverrideParseError, parseOverride } from './hydra/overrides.js';

export const SETTINGS_FILE = '.mlops-config.yaml';

const plainName = z.string().regex(/^[A-Za-z0-9._+-]+$/, 'may contain only letters, digits, . _ + -');
const relativePath = z
  .string()
  .regex(/^[A-Za-z0-9._\/+-]+$/, 'must be a relative path of letters, digits, . _ + - /')
  .refine((path) => !path.startsWith('/') && !path.split('/').includes('..'), 'must stay inside the repository');

const settingsSchema = z.strictObject({
  /** Conda environment activated before the run. */
  conda_env: plainName.nullable().default(null),
  /** Virtualenv (path on the cluster, `~` allowed) activated instead of conda. */
  venv: z.string().regex(/^(~\/)?[A-Za-z0-9._\/+-]+$/, 'must be a path of letters, digits, . _ + - /').nullable().default(null),
  /** The training entry point, relative to the repository root. */
  train_script: relativePath.default('train.py'),
  /** Interpreter that runs train_script. */
  python: plainName.default('python'),
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
});

export type ProjectSettings = z.infer<typeof settingsSchema>;

export const defaultSettings: ProjectSettings = settingsSchema.parse({});

export function parseSettings(text: string): ProjectSettings {
  const document = parseDocument(text, { prettyErrors: true });
  const yamlError = document.errors[0];
  if (yamlError) {
    const line = yamlError.linePos?.[0]?.line;
    throw new ValidationError(SETTINGS_FILE, `invalid YAML${line ? ` at line ${line}` : ''}: ${yamlError.message.split('\n')[0]}`);
  }
  const parsed = settingsSchema.safeParse(document.toJS() ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.join('.');
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

export async function readSettings(repoRoot: string): Promise<ProjectSettings> {
  let text: string;
  try {
    text = await readFile(join(repoRoot, SETTINGS_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return defaultSettings;
    throw error;
  }
  return parseSettings(text);
}
