#!/usr/bin/env bash
# What the lab, browser, deployment and PostgreSQL suites need on a Debian machine (as root): Debian packages, the SLURM
# lab, and PostgreSQL (the suites' second engine).
set -euo pipefail
cd "$(dirname "$0")/.."
# Chromium for the browser suites; Caddy and systemd's verifier for the deployment suites (the README's reverse proxy
# and the systemd unit in config/ are tested as written); openssl makes their self-signed certificates.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/caddy ] || missing+=(caddy)
[ -x /usr/bin/systemd-analyze ] || missing+=(systemd)
[ -x /usr/bin/openssl ] || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
bash test/lab/lab.sh up
bash test/postgres.sh up >/dev/null
bash test/redis.sh up >/dev/null
