// Where Mission Control keeps things on a cluster, written once. The server, the remote scripts (which get these
// paths as arguments) and the sbatch template (through its placeholders) all take them from here:
//
//   <workspace>/repos/<project>.git   one bare clone per project, shared by its jobs' checkouts
//   <workspace>/jobs/<tag>/           one directory per launch
//     code/          the job's own checkout of the launched commit, and SLURM's WorkDir: the queue shows it, which
//                    is how a launch whose sbatch answer was lost is found again, and how our jobs are told apart
//     events/        one file per lifecycle event the job script writes (started, finished, signalled)
//     output.log     the job's stdout and stderr
//     gpu/<node>.csv GPU use sampled by the job script on each node where nvidia-smi exists (parsed by
//                    server/metrics/gpu-samples.ts)
//     job.sh         the rendered sbatch script, as submitted
//     overrides      a job array's run list: each task's Hydra overrides, NUL-terminated, a task ended by an empty one
//     tasks/<index>/ a job array's task: its events/, output.log and gpu/, as a job's (the checkout is the array's)
//     submitted      SLURM's id, written the moment sbatch answers
//     submit.lock    held by a submit until sbatch answered, and by a lookup of a lost submit
//     abandoned      left by a lookup that found no job: a submit still on its way must not go ahead

/** A launch's tag: Mission Control's id of it on the cluster, in its directory's name. */
const TAG = '[a-z0-9]{12}';
const TAG_PATTERN = new RegExp(`^${TAG}$`);
const JOBS = 'jobs';
const CODE = 'code';

export function isJobTag(tag: string): boolean {
  return TAG_PATTERN.test(tag);
}

/** Every path of one job's directory; all absolute when `dir` is. */
export interface JobPaths {
  dir: string;
  code: string;
  events: string;
  output: string;
  /** One file of GPU samples per node, `<gpu>/<node>.csv`. */
  gpu: string;
  script: string;
  overrides: string;
  tasks: string;
  submitted: string;
  submitLock: string;
  abandoned: string;
}

/** The directory of the launch `tag` in a cluster's workspace. */
export function jobDirOf(workspace: string, tag: string): string {
  return `${workspace}/${JOBS}/${tag}`;
}

export function jobPaths(dir: string): JobPaths {
  return {
    dir,
    code: `${dir}/${CODE}`,
    events: `${dir}/events`,
    output: `${dir}/output.log`,
    gpu: `${dir}/gpu`,
    script: `${dir}/job.sh`,
    overrides: `${dir}/overrides`,
    tasks: `${dir}/tasks`,
    submitted: `${dir}/submitted`,
    submitLock: `${dir}/submit.lock`,
    abandoned: `${dir}/abandoned`,
  };
}

const TASKS = 'tasks';

/** The directory of a job array's task in its submission's directory (`index` may be a placeholder, e.g. SLURM's %a). */
export function taskDirOf(dir: string, index: number | string): string {
  return `${dir}/${TASKS}/${index}`;
}

/** The submission directory a task directory belongs to (the array's checkout, script and run list); null for a job's own. */
export function submissionDirOf(dir: string): string | null {
  const match = new RegExp(`^(.*/${JOBS}/${TAG})/${TASKS}/\\d+$`).exec(dir);
  return match ? match[1]! : null;
}

/** The workspace a launch's directory is in (`<workspace>/jobs/<tag>` → `<workspace>`). */
export function workspaceOfJobDir(dir: string): string {
  return dir.slice(0, dir.lastIndexOf(`/${JOBS}/`));
}

/** The project's shared bare clone in a cluster's workspace; `name` is a path-safe slug. */
export function repoDirOf(workspace: string, name: string): string {
  return `${workspace}/repos/${name}.git`;
}

const OUR_WORK_DIR = new RegExp(`/${JOBS}/${TAG}/${CODE}$`);

/** A working directory SLURM reports is one of our launches' checkouts (else the job was submitted by hand). */
export function isOurWorkDir(workDir: string | null | undefined): boolean {
  return workDir != null && OUR_WORK_DIR.test(workDir);
}

/**
 * The same paths for a constant remote script that is handed the job directory in `$job_dir`: shell assignments
 * (`job_events="${job_dir}/events"`, `job_submit_lock=…`), made by jobPaths itself so the layout stays written once.
 */
export function jobPathsInShell(): string {
  const { dir: _dir, ...paths } = jobPaths('${job_dir}');
  return Object.entries(paths)
    .map(([name, path]) => `job_${name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)}="${path}"`)
    .join('\n');
}
