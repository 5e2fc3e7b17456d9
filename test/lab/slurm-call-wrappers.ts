// For counting the SLURM programs a remote command runs (bench/poll, the lab's pending suite).

/**
 * Wrappers that log each squeue/sacct/scontrol a command runs, for counting what our one script does inside: `$1` the
 * directory to write them to; a command run with it first on PATH appends each program's name to `$1/calls`.
 */
export const WRAPPERS_SCRIPT = `dir=$1; mkdir -p "$dir"; : > "$dir/calls"
for program in squeue sacct scontrol sbatch scancel sinfo; do
  real=$(command -v "$program") || continue
  printf '#!/bin/sh\\necho %s >> %s/calls\\nexec %s "$@"\\n' "$program" "$dir" "$real" > "$dir/$program"
  chmod +x "$dir/$program"
done`;
