// Comparing runs: which jobs a /compare address names, a selection of them, and what differs between their
// launch settings (the config side by side shows only that).

export const COMPARE_MIN = 2;
export const COMPARE_MAX = 6;

/** The jobs of `?jobs=1,2,3`: distinct positive integers in the order given, or why the address cannot be read. */
export function parseCompareIds(text: string | null | undefined): { ids: number[]; error: string | null } {
  const words = (text ?? '').split(',').map((word) => word.trim()).filter(Boolean);
  const bad = words.find((word) => !/^\d{1,9}$/.test(word) || Number(word) === 0);
  if (bad !== undefined) return { ids: [], error: `“${bad}” is not a job number: the address lists job numbers separated by commas (?jobs=12,15).` };
  const ids = [...new Set(words.map(Number))];
  if (ids.length < COMPARE_MIN) return { ids, error: `Pick at least ${COMPARE_MIN} jobs to compare.` };
  if (ids.length > COMPARE_MAX) return { ids: ids.slice(0, COMPARE_MAX), error: `At most ${COMPARE_MAX} jobs are compared at once: the first ${COMPARE_MAX} are shown.` };
  return { ids, error: null };
}

export const compareHref = (ids: readonly number[]) => `/compare?jobs=${ids.join(',')}`;

/** A selection after a tap on a job: added (up to COMPARE_MAX, further taps ignored) or removed. */
export function toggleSelected(selected: readonly number[], id: number): number[] {
  if (selected.includes(id)) return selected.filter((entry) => entry !== id);
  return selected.length >= COMPARE_MAX ? [...selected] : [...selected, id];
}

/** What a comparison reads of a job: where and on what it ran, and its launch settings. */
export interface ComparedJob {
  cluster: string;
  commitSha: string | null;
  input: {
    partition: string | null;
    nodes: number;
    gpusPerNode: number;
    gpuType: string | null;
    cpusPerTask: number;
    memory: string | null;
    timeLimit: string | null;
    primary: string | null;
    groups: readonly { group: string; option: string | null; options: readonly string[] | null }[];
    parameters: readonly { path: string; value: unknown; add: boolean }[];
    rawOverrides: string;
    overrides: readonly string[];
  };
}

/** A job's settings as `key → value` text, in the order people read a launch: config first, then resources. */
export function configEntries(job: ComparedJob): Map<string, string> {
  const entries = new Map<string, string>();
  const input = job.input;
  if (input.primary) entries.set('config', input.primary);
  for (const choice of input.groups) entries.set(choice.group, choice.options ? `[${choice.options.join(',')}]` : (choice.option ?? 'null'));
  for (const parameter of input.parameters) entries.set(`${parameter.add ? '+' : ''}${parameter.path}`, typeof parameter.value === 'string' ? parameter.value : JSON.stringify(parameter.value));
  // A sweep task's own values and a clone's argv overrides are key=value words: each is its own row.
  for (const word of input.overrides) {
    const equals = word.indexOf('=');
    if (equals > 0) entries.set(word.slice(0, equals), word.slice(equals + 1));
    else entries.set(word, '');
  }
  if (input.rawOverrides) entries.set('overrides', input.rawOverrides);
  entries.set('cluster', `${job.cluster}${input.partition ? ` · ${input.partition}` : ''}`);
  entries.set('GPUs', input.gpusPerNode > 0 ? `${input.nodes > 1 ? `${input.nodes} × ` : ''}${input.gpusPerNode} ${input.gpuType ?? ''}`.trim() : 'none');
  entries.set('CPUs', String(input.cpusPerTask));
  // Left out at launch: the partition's default, whatever it was then.
  entries.set('memory', input.memory ?? 'default');
  entries.set('time limit', input.timeLimit ?? 'default');
  if (job.commitSha) entries.set('commit', job.commitSha.slice(0, 8));
  return entries;
}

export interface ConfigDifference {
  key: string;
  /** One per job, in the jobs' order; undefined where that job does not set it. */
  values: Array<string | undefined>;
}

/** The settings that are not the same in every job (a key one job lacks differs), and how many are. */
export function configDifferences(jobs: readonly ComparedJob[]): { differences: ConfigDifference[]; same: number } {
  const maps = jobs.map(configEntries);
  // Every job's keys in reading order: a key only a later job has goes after the key it follows there.
  const keys: string[] = [];
  for (const map of maps) {
    let after = -1;
    for (const key of map.keys()) {
      const at = keys.indexOf(key);
      if (at >= 0) after = at;
      else keys.splice(++after, 0, key);
    }
  }
  const differences: ConfigDifference[] = [];
  let same = 0;
  for (const key of keys) {
    const values = maps.map((map) => map.get(key));
    if (values.every((value) => value === values[0])) same++;
    else differences.push({ key, values });
  }
  return { differences, same };
}
