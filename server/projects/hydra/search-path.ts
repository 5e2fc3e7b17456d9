// Where a project's Hydra configs are: the config directory the app gives Hydra, its config_name, and the extra
// directories of `hydra.searchpath`. Hydra learns the first two from `@hydra.main(config_path=…, config_name=…)` in the
// entry script; the server never runs project code, so it reads that call as text. `.mlops-config.yaml: config_dir`
// names the directory outright, for entry points that compute it.
import { posix } from 'node:path';
import { LRUCache } from 'lru-cache';
import { type AppError, ProjectFileError } from '../../errors.js';
import { isProjectDirectory, loadProjectFile } from '../files.js';
import type { ProjectSettings } from '../settings.js';

/** Where a project's Hydra config directory is looked for when neither the settings nor the entry script name it. */
export const HYDRA_CONFIG_DIRS = ['conf', 'configs', 'config'] as const;

export interface HydraLocation {
  /** Relative to the repository ("conf", "fairseq/config", "" for the repository itself). */
  configDir: string;
  /** `config_name` of @hydra.main, when the entry script names one. */
  configName: string | null;
}

export interface HydraMain {
  /** As written, relative to the script's directory; null when absent or None. */
  configPath: string | null;
  configName: string | null;
}

const ENTRY_SCRIPT_MAX_BYTES = 1024 * 1024;

function keywordArgument(call: string, name: string): string | null {
  const match = new RegExp(`\\b${name}\\s*=\\s*(?:"([^"\\n]*)"|'([^'\\n]*)'|None\\b)`).exec(call);
  return match ? (match[1] ?? match[2] ?? null) : null;
}

/** The arguments of the first `@hydra.main(...)` decorator (also `@main(...)` after `from hydra import main`) in `text`. */
export function parseHydraMain(text: string): HydraMain | null {
  const start = /^[ \t]*@(?:hydra\.)?main\s*\(/m.exec(text);
  if (!start) return null;
  if (!/\bhydra\.main\b/.test(start[0]) && !/from\s+hydra\s+import\s+[^\n]*\bmain\b/.test(text)) return null;
  // Up to the parenthesis that closes the call; string arguments hold no parentheses in practice.
  let depth = 0;
  let end = start.index + start[0].length - 1;
  for (; end < text.length; end++) {
    if (text[end] === '(') depth++;
    else if (text[end] === ')' && --depth === 0) break;
  }
  const call = text.slice(start.index + start[0].length, end);
  return { configPath: keywordArgument(call, 'config_path'), configName: keywordArgument(call, 'config_name') };
}

/** `base/relative` normalised, or null when it leaves the repository. */
function inside(base: string, relative: string): string | null {
  const joined = posix.normalize(posix.join(base, relative));
  if (joined === '..' || joined.startsWith('../') || posix.isAbsolute(relative)) return null;
  return joined === '.' ? '' : joined.replace(/\/$/, '');
}

/** The config directory of the repository at `root` (its real path), or null when it has none. */
export async function locateHydraConfig(root: string, settings: ProjectSettings): Promise<HydraLocation | null> {
  if (settings.config_dir !== null) {
    const configDir = inside('', settings.config_dir) ?? settings.config_dir;
    if (!(await isProjectDirectory(root, configDir))) {
      throw new ProjectFileError('.mlops-config.yaml', null, `config_dir: ${settings.config_dir}/ is not a directory of the repository`);
    }
    const main = await readHydraMain(root, settings.train_script);
    return { configDir, configName: main?.configName ?? null };
  }
  const main = await readHydraMain(root, settings.train_script);
  if (main?.configPath != null) {
    const configDir = inside(posix.dirname(settings.train_script), main.configPath);
    if (configDir !== null && (await isProjectDirectory(root, configDir || '.'))) return { configDir, configName: main.configName };
  }
  for (const candidate of HYDRA_CONFIG_DIRS) {
    if (await isProjectDirectory(root, candidate)) return { configDir: candidate, configName: main?.configName ?? null };
  }
  return null;
}

// Every composition (each form change, each preview) asks: parsed once per version of the script (path, inode, mtime).
const parsedMains = new LRUCache<string, { value: HydraMain | null } | { error: AppError }>({ maxSize: 8 * 1024 * 1024 });

async function readHydraMain(root: string, script: string): Promise<HydraMain | null> {
  try {
    return await loadProjectFile(root, script, { maxBytes: ENTRY_SCRIPT_MAX_BYTES, parse: parseHydraMain, cache: parsedMains });
  } catch (error) {
    // An entry script too large or unreadable only means it names nothing: the conventions still apply.
    if (error instanceof ProjectFileError) return null;
    throw error;
  }
}

/**
 * The directories `hydra.searchpath` adds after the config directory, relative to the repository: `file://dir`
 * (relative to the checkout, where the job starts) and `pkg://a.b` (a Python package beside the entry script or at the
 * root). Entries outside the repository, interpolated or of another scheme cannot be read here and are skipped.
 */
export async function searchPathDirs(root: string, entries: unknown, entryScript: string): Promise<string[]> {
  if (!Array.isArray(entries)) return [];
  const dirs: string[] = [];
  for (const entry of entries) {
    if (typeof entry !== 'string' || entry.includes('${')) continue;
    const candidates: (string | null)[] = [];
    if (entry.startsWith('file://')) candidates.push(inside('', entry.slice('file://'.length)));
    else if (entry.startsWith('pkg://')) {
      const packagePath = entry.slice('pkg://'.length).replaceAll('.', '/');
      candidates.push(inside(posix.dirname(entryScript), packagePath), inside('', packagePath));
    }
    for (const candidate of candidates) {
      if (candidate !== null && candidate !== '' && !dirs.includes(candidate) && (await isProjectDirectory(root, candidate))) {
        dirs.push(candidate);
        break;
      }
    }
  }
  return dirs;
}
