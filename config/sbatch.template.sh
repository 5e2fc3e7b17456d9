#!/bin/bash
# Default sbatch script of Mission Control. A cluster can use its own (clusters.yaml: scriptTemplate) with the same
# placeholders, each written as its name in double curly braces. Every value in them is validated, and quoted
# wherever a shell reads it:
#   directives    the #SBATCH lines (job name, partition, account, QOS, nodes, GPUs, CPUs, memory, time,
#                 output file, working directory)
#   job_dir       the job's directory on the cluster
#   work_dir      the job's own checkout of the launched commit (in job_dir)
#   events_dir    where lifecycle events go, one file per event (in job_dir)
#   gpu_dir       where GPU samples go, one file per node (in job_dir)
#   environment   module loads, conda or venv activation, exported variables
#   setup         the project's `setup` lines from .mlops-config.yaml
#   install       `pip install -e .` when the project asks for it
#   resume        with the resume option: the USR2 trap that checkpoints and requeues at the time limit, and the
#                 override a restart adds (empty without it); a launch with resume is refused by a template without
#                 it. It writes the event `requeued <n>` instead of `finished` when the job requeues itself.
#   command       the training command with its Hydra overrides (under srun for several GPUs or nodes)
#   tag           Mission Control's id of this launch
# Keep the lifecycle part: it is how the server learns of a job's start and end without asking slurmctld. Keep the
# GPU sampler's functions too: a job on several nodes runs each node's task through mc_node_task.
{{directives}}

set -eo pipefail
MC_EVENTS_DIR={{events_dir}}
MC_GPU_DIR={{gpu_dir}}

# GPU use where nvidia-smi exists: utilisation and memory of each GPU every 30 s (MC_GPU_SAMPLE_SECONDS, e.g. from
# the project's env, changes it), appended to one file per node as nvidia-smi prints it, in UTC (it prints local
# time, which the server cannot know). Best effort: a node without nvidia-smi, or a directory it cannot make, just
# has no samples. Stopped when the job script exits; scancel and the time limit end it with the job's processes.
mc_gpu_sampler() {
  command -v nvidia-smi >/dev/null 2>&1 && mkdir -p "$MC_GPU_DIR" 2>/dev/null || return 0
  TZ=UTC0 nvidia-smi --query-gpu=timestamp,index,utilization.gpu,memory.used,memory.total --format=csv,noheader,nounits \
    -l "${MC_GPU_SAMPLE_SECONDS:-30}" </dev/null >>"$MC_GPU_DIR/${SLURMD_NODENAME:-$(hostname)}.csv" 2>/dev/null &
  mc_gpu_pid=$!
}
mc_gpu_stop() { if [ -n "${mc_gpu_pid:-}" ]; then kill "$mc_gpu_pid" 2>/dev/null || true; fi; }
# A job on several nodes: srun runs the training once per node through this, so each other node samples its own GPUs
# from inside the training's task (same GPUs visible; ended with the task). The first node's sampler is the batch
# script's own; with several tasks on a node only its first samples.
mc_node_task() {
  if [ "${SLURM_NODEID:-0}" != 0 ] && [ "${SLURM_LOCALID:-0}" = 0 ]; then mc_gpu_sampler; fi
  "$@"
  local status=$?
  mc_gpu_stop
  return "$status"
}
export -f mc_gpu_sampler mc_gpu_stop mc_node_task
export MC_GPU_DIR

# One file per event: appends from several nodes to one file are not atomic on NFS. The node as SLURM names it
# (squeue's NodeList), not hostname, which may be a long or different name.
mc_event() {
  printf '%s %s %s\n' "$(date +%s)" "${SLURMD_NODENAME:-$(hostname)}" "${2:-}" > "$MC_EVENTS_DIR/$1.$$" && mv -f "$MC_EVENTS_DIR/$1.$$" "$MC_EVENTS_DIR/$1"
}
trap 'mc_status=$?; mc_gpu_stop; mc_event finished "$mc_status"' EXIT
# SLURM sends TERM on scancel and at the time limit; the training runs in the background so this fires at once.
trap 'set +e; mc_event signalled TERM; [ -n "${mc_pid:-}" ] && kill -TERM "$mc_pid" 2>/dev/null; exit 143' TERM
{{resume}}
mc_event started "${SLURM_JOB_ID:-}"
echo "mission-control: job {{tag}} (SLURM ${SLURM_JOB_ID:-?}) on $(hostname) at $(date -Is)"

cd {{work_dir}}
{{environment}}
{{setup}}
{{install}}

mc_gpu_sampler
set +e
{{command}} &
mc_pid=$!
wait "$mc_pid"
mc_status=$?
# A trapped signal (USR2 with resume, when the script does not requeue) ends `wait` early: wait on while it runs.
while kill -0 "$mc_pid" 2>/dev/null; do
  wait "$mc_pid"
  mc_status=$?
done
exit "$mc_status"
