// Renders the sbatch script for a launch from a template. Values that a shell reads are quoted with the one
// quoting function; values in #SBATCH lines were validated to need no quoting (server/slurm/values.ts). Paths of
// the job's directory come from its layout (./layout.ts): a template names them only by placeholder.
import { quoteArg, quoteArgv } from '../ssh/quote.js';
import { jobPaths } from './layout.js';

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
  memory: string;
  timeLimit: string;
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

export function sbatchDirectives(input: ScriptInput): string[] {
  const paths = jobPaths(input.jobDir);
  return [
    `--job-name=${input.jobName}`,
    ...(input.partition ? [`--partition=${input.partition}`] : []),
    ...(input.account ? [`--account=${input.account}`] : []),
    ...(input.qos ? [`--qos=${input.qos}`] : []),
    `--nodes=${input.nodes}`,
    ...gpuDirectives(input),
    `--cpus-per-task=${input.cpusPerTask}`,
    `--mem=${input.memory}`,
    `--time=${input.timeLimit}`,
    `--output=${paths.output}`,
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

export function renderScript(template: string, input: ScriptInput): string {
  // Several GPUs or nodes: srun starts the program once per node with SLURM's task environment.
  const command = input.nodes > 1 || input.gpusPerNode > 1 ? ['srun', ...input.command] : input.command;
  const paths = jobPaths(input.jobDir);
  const blocks: Record<string, string> = {
    directives: sbatchDirectives(input).map((directive) => `#SBATCH ${directive}`).join('\n'),
    job_dir: quoteArg(paths.dir),
    work_dir: quoteArg(paths.code),
    events_dir: quoteArg(paths.events),
    environment: environmentLines(input).join('\n'),
    setup: input.setup.join('\n'),
    install: input.installEditable ? 'pip install --quiet -e .' : '',
    command: quoteArgv(command),
    tag: input.tag,
  };
  return template.replace(/\{\{(\w+)\}\}/g, (placeholder, name: string) => blocks[name] ?? placeholder);
}
