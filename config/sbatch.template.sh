#!/bin/bash
# Default sbatch script of Mission Control. A cluster can use its own (clusters.yaml: scriptTemplate) with the same
# placeholders, each written as its name in double curly braces. Every value in them is validated, and quoted
# wherever a shell reads it:
#   directives    the #SBATCH lines (job name, partition, account, QOS, nodes, GPUs, CPUs, memory, time,
#                 output file, working directory)
#   job_dir       the job's directory on the cluster
#   work_dir      the job's own checkout of the launched commit (in job_dir)
#   events_dir    where lifecycle events go, one file per event (in job_dir)
#   environment   module loads, conda or venv activation, exported variables
#   setup         the project's `setup` lines from .mlops-config.yaml
#   install       `pip install -e .` when the project asks for it
#   command       the training command with its Hydra overrides (under srun for several GPUs or nodes)
#   tag           Mission Control's id of this launch
# Keep the lifecycle part: it is how the server learns of a job's start and end without asking slurmctld.
{{directives}}

set -eo pipefail
MC_EVENTS_DIR={{events_dir}}

# One file per event: appends from several nodes to one file are not atomic on NFS. The node as SLURM names it
# (squeue's NodeList), not hostname, which may be a long or different name.
mc_event() {
  printf '%s %s %s\n' "$(date +%s)" "${SLURMD_NODENAME:-$(hostname)}" "${2:-}" > "$MC_EVENTS_DIR/$1.$$" && mv -f "$MC_EVENTS_DIR/$1.$$" "$MC_EVENTS_DIR/$1"
}
trap 'mc_event finished "$?"' EXIT
# SLURM sends TERM on scancel and at the time limit; the training runs in the background so this fires at once.
trap 'set +e; mc_event signalled TERM; [ -n "${mc_pid:-}" ] && kill -TERM "$mc_pid" 2>/dev/null; exit 143' TERM
mc_event started "${SLURM_JOB_ID:-}"
echo "mission-control: job {{tag}} (SLURM ${SLURM_JOB_ID:-?}) on $(hostname) at $(date -Is)"

cd {{work_dir}}
{{environment}}
{{setup}}
{{install}}

set +e
{{command}} &
mc_pid=$!
wait "$mc_pid"
exit $?
