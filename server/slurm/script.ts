// Renders the sbatch script for a launch from a template. Values that a shell reads are quoted with the one
// quoting function; values in #SBATCH lines were validated to need no quoting (server/slurm/values.ts). Paths of
// the job's directory come from its layout (./layout.ts): a template names them only by placeholder.
import { ValidationError } from '../errors.js';
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

/** The job requeues itself at its time limit (validated by the jobs domain: server/jobs/input.ts). */
export interface Resume {
  maxRestarts: number;
  /** SLURM sends USR2 to the batch script this long before the time limit (--signal=B:USR2@<s>). */
  signalSeconds: number;
  /** One Hydra override, as Hydra reads it, added to the command on a restart; null for none. */
  override: string | null;
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
  /** Checkpoint and requeue at the time limit; null or absent for none. */
  resume?: Resume | null;
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
    // B: to the batch script only, which forwards it to the training (USR1 is NCCL's). A requeued run would
    // truncate the log: appended, it keeps every run's.
    ...(input.resume ? [`--signal=B:USR2@${input.resume.signalSeconds}`, '--requeue', '--open-mode=append'] : []),
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

// With resume: SLURM sends USR2 before the time limit. The training gets it (to checkpoint) and a grace period of half
// the warning to exit; then, while restarts are left, the script requeues itself (a task by its own id) and exits
// with its traps off, so no `finished` event says the job ended: `requeued <n>` says this run did. With none left the
// training is not told and runs into the limit (TIMEOUT, as without resume). SLURM sets SLURM_RESTART_COUNT on a
// requeued run; such a run gets the resume override. The template runs this block before the training starts.
const RESUME = (resume: Resume) => `mc_resume_args=()
if [ "\${SLURM_RESTART_COUNT:-0}" -ge 1 ]; then
  ${resume.override === null ? `echo "mission-control: restart $SLURM_RESTART_COUNT of ${resume.maxRestarts}"` : `mc_resume_args=(${quoteArg(resume.override)})
  echo "mission-control: restart $SLURM_RESTART_COUNT of ${resume.maxRestarts}, with" ${quoteArg(resume.override)}`}
fi
mc_resume() {
  set +e
  local restarts=\${SLURM_RESTART_COUNT:-0} waited=0
  if [ "$restarts" -ge ${resume.maxRestarts} ]; then
    echo "mission-control: time limit near, all ${resume.maxRestarts} restarts used: running on to the limit"
    return 0
  fi
  echo "mission-control: time limit near at $(date -Is): USR2 to the training, then requeue ($((restarts + 1)) of ${resume.maxRestarts})"
  if [ -n "\${mc_pid:-}" ]; then
    kill -USR2 "$mc_pid" 2>/dev/null
    while kill -0 "$mc_pid" 2>/dev/null && [ "$waited" -lt ${Math.floor(resume.signalSeconds / 2)} ]; do sleep 1; waited=$((waited + 1)); done
  fi
  trap - EXIT TERM USR2
  mc_gpu_stop
  mc_event requeued "$((restarts + 1))"
  local id=$SLURM_JOB_ID
  if [ -n "\${SLURM_ARRAY_JOB_ID:-}" ]; then id=\${SLURM_ARRAY_JOB_ID}_\${SLURM_ARRAY_TASK_ID}; fi
  scontrol requeue "$id" || { mc_event finished 1; exit 1; }
  exit 0
}
trap mc_resume USR2`;

export function renderScript(template: string, input: ScriptInput): string {
  // A template without the block would die of the USR2 SLURM sends (bash's default action), losing the run.
  if (input.resume && !template.includes('{{resume}}')) {
    throw new ValidationError('resume', "the cluster's script template has no {{resume}} block (see config/sbatch.template.sh), so it cannot checkpoint and requeue");
  }
  // Several GPUs or nodes: srun starts the program once per node with SLURM's task environment.
  const program = input.nodes > 1 ? ['srun', ...NODE_TASK, ...input.command] : input.gpusPerNode > 1 ? ['srun', ...input.command] : input.command;
  const paths = jobPaths(input.jobDir);
  // The template puts ` &` after the command block: in an array, the run list is read first, then the program runs.
  const resumeArgs = input.resume ? ' "${mc_resume_args[@]}"' : '';
  const command = input.arrayTasks ? `${TASK_OVERRIDES(quoteArg(paths.overrides))}\n${quoteArgv(program)} "\${mc_task_args[@]}"${resumeArgs}` : `${quoteArgv(program)}${resumeArgs}`;
  const blocks: Record<string, string> = {
    directives: sbatchDirectives(input).map((directive) => `#SBATCH ${directive}`).join('\n'),
    job_dir: quoteArg(paths.dir),
    work_dir: quoteArg(paths.code),
    events_dir: input.arrayTasks ? taskPathInShell(input.jobDir, (dir) => jobPaths(dir).events) : quoteArg(paths.events),
    gpu_dir: input.arrayTasks ? taskPathInShell(input.jobDir, (dir) => jobPaths(dir).gpu) : quoteArg(paths.gpu),
    environment: environmentLines(input).join('\n'),
    setup: input.setup.join('\n'),
    install: input.installEditable ? 'pip install --quiet -e .' : '',
    resume: input.resume ? RESUME(input.resume) : '',
    command,
    tag: input.tag,
  };
  return template.replace(/\{\{(\w+)\}\}/g, (placeholder, name: string) => blocks[name] ?? placeholder);
}
