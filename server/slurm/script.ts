// Renders the sbatch script for a launch from a template. Values that a shell reads are quoted with the one
// quoting function; values in #SBATCH lines were validated to need no quoting (server/slurm/values.ts). Paths of
// the job's directory come from its layout (./layout.ts): a template names them only by placeholder.
import { quoteArg, quoteArgv } from '../ssh/quote.js';
import { jobPaths, taskDirOf } from './layout.js';

export type GpuRequestStyle = 'gres' | 'constraint' | 'gpus';

/** What a job asks SLURM for, validated (server/slurm/values.ts). */
export interface Resources {
  jobName: string;
  partition: string | null;
  account: string | null;
  qos: string | null;
  nodes: number;
  gpusPerNode: number;
  gpuType: string | null;
  cpusPerTask: number;
  /** Null: not written, so the partition's or the site's default applies (DefMemPerCPU, DefaultTime). */
  memory: string | null;
  timeLimit: string | null;
}

export interface ScriptInput extends Resources {
  tag: string;
  gpuRequestStyle: GpuRequestStyle;
  /** Absolute path of the job's directory on the cluster; every other path is in it (./layout.ts). */
  jobDir: string;
  modules: string[];
  env: Record<string, string>;
  condaEnv: string | null;
  venv: string | null;
  setup: string[];
  installEditable: boolean;
  /** argv of the training program, e.g. ['python', 'train.py', '--config-name', 'train', 'lr=0.1']. */
  command: string[];
  /**
   * A job array (a sweep): each task writes its output and events in its own directory (layout: tasks/<index>/) and
   * appends its own Hydra overrides, read from the run list by $SLURM_ARRAY_TASK_ID, to `command`.
   */
  arrayTasks?: boolean;
  /** SLURM's --dependency value (`afterok:123:456_2`), built and checked by the jobs domain; null for none. */
  dependency?: string | null;
}

function gpuDirectives(input: ScriptInput): string[] {
  if (input.gpusPerNode === 0) return [];
  const { gpuType: type, gpusPerNode: count } = input;
  switch (input.gpuRequestStyle) {
    case 'gres':
      return [`--gres=gpu:${type ? `${type}:` : ''}${count}`];
    case 'constraint':
      return [...(type ? [`--constraint=${type}`] : []), `--gres=gpu:${count}`];
    case 'gpus':
      return [`--gpus-per-node=${type ? `${type}:` : ''}${count}`];
  }
}

/** SLURM replaces %a in --output with the task's index. */
const TASK_INDEX_PATTERN = '%a';

export function sbatchDirectives(input: ScriptInput): string[] {
  const paths = jobPaths(input.jobDir);
  const output = input.arrayTasks ? jobPaths(taskDirOf(input.jobDir, TASK_INDEX_PATTERN)).output : paths.output;
  return [
    `--job-name=${input.jobName}`,
    ...(input.partition ? [`--partition=${input.partition}`] : []),
    ...(input.account ? [`--account=${input.account}`] : []),
    ...(input.qos ? [`--qos=${input.qos}`] : []),
    `--nodes=${input.nodes}`,
    ...gpuDirectives(input),
    `--cpus-per-task=${input.cpusPerTask}`,
    ...(input.memory ? [`--mem=${input.memory}`] : []),
    ...(input.timeLimit ? [`--time=${input.timeLimit}`] : []),
    ...(input.dependency ? [`--dependency=${input.dependency}`] : []),
    `--output=${output}`,
    `--chdir=${paths.code}`,
  ];
}

/** `~/x` is not expanded inside quotes: keep the tilde outside them. */
function quotePath(path: string): string {
  return path.startsWith('~/') ? `~/${quoteArg(path.slice(2))}` : quoteArg(path);
}

function environmentLines(input: ScriptInput): string[] {
  const lines = input.modules.map((module) => `module load ${quoteArg(module)}`);
  if (input.condaEnv) {
    lines.push('source "$(conda info --base)/etc/profile.d/conda.sh"', `conda activate ${quoteArg(input.condaEnv)}`);
  }
  if (input.venv) lines.push(`source ${quotePath(input.venv)}/bin/activate`);
  for (const [name, value] of Object.entries(input.env)) lines.push(`export ${name}=${quoteArg(value)}`);
  return lines;
}

// A task's overrides, read from the run list (never a string the shell would parse): `read -d ''` splits it at NULs,
// an empty entry ends a task's list. Shown in the task's log, one shell-quoted word each.
const TASK_OVERRIDES = (file: string) => `mc_task_args=(); mc_task=0
while IFS= read -r -d '' mc_arg; do
  if [ -z "$mc_arg" ]; then mc_task=$((mc_task + 1)); elif [ "$mc_task" -eq "$SLURM_ARRAY_TASK_ID" ]; then mc_task_args+=("$mc_arg"); fi
done < ${file}
echo "mission-control: task $SLURM_ARRAY_TASK_ID of array \${SLURM_ARRAY_JOB_ID:-?} runs with$(printf ' %q' "\${mc_task_args[@]}")"`;

/** A task's path as the shell sees it: the part before the index quoted, the index from SLURM's environment. */
function taskPathInShell(jobDir: string, path: (taskDir: string) => string): string {
  const marker = '\u0000';
  const [before = '', after = ''] = path(taskDirOf(jobDir, marker)).split(marker);
  return `${quoteArg(before)}"$SLURM_ARRAY_TASK_ID"${after ? quoteArg(after) : ''}`;
}

// A job on several nodes: each node's task runs through the template's mc_node_task, which starts that node's GPU
// sampler (the batch script samples only the first node); under a template without it, the program runs as it is.
const NODE_TASK = ['bash', '-c', 'if declare -F mc_node_task >/dev/null; then mc_node_task "$@"; else "$@"; fi', 'mc-node-task'];

export function renderScript(template: string, input: ScriptInput): string {
  // Several GPUs or nodes: srun starts the program once per node with SLURM's task environment.
  const program = input.nodes > 1 ? ['srun', ...NODE_TASK, ...input.command] : input.gpusPerNode > 1 ? ['srun', ...input.command] : input.command;
  const paths = jobPaths(input.jobDir);
  // The template puts ` &` after the command block: in an array, the run list is read first, then the program runs.
  const command = input.arrayTasks ? `${TASK_OVERRIDES(quoteArg(paths.overrides))}\n${quoteArgv(program)} "\${mc_task_args[@]}"` : quoteArgv(program);
  const blocks: Record<string, string> = {
    directives: sbatchDirectives(input).map((directive) => `#SBATCH ${directive}`).join('\n'),
    job_dir: quoteArg(paths.dir),
    work_dir: quoteArg(paths.code),
    events_dir: input.arrayTasks ? taskPathInShell(input.jobDir, (dir) => jobPaths(dir).events) : quoteArg(paths.events),
    gpu_dir: input.arrayTasks ? taskPathInShell(input.jobDir, (dir) => jobPaths(dir).gpu) : quoteArg(paths.gpu),
    environment: environmentLines(input).join('\n'),
    setup: input.setup.join('\n'),
    install: input.installEditable ? 'pip install --quiet -e .' : '',
    command,
    tag: input.tag,
  };
  return template.replace(/\{\{(\w+)\}\}/g, (placeholder, name: string) => blocks[name] ?? placeholder);
}
