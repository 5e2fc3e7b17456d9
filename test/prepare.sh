#!/usr/bin/env bash
# What the lab and browser suites need on a Debian machine (as root): Debian's Chromium and the SLURM lab.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
bash test/lab/lab.sh up
