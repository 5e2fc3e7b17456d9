#!/usr/bin/env bash
# The Redis the group server's suites and demo use: Debian's redis-server binary, nothing more. `up` installs it (as
# root, as CI runs) when it is missing. It starts no system daemon, and keeps the package's own from starting: every
# suite and the demo start a redis-server of their own on a free loopback port (test/redis-server.ts) and stop it.
set -euo pipefail
case "${1:-up}" in
  up)
    [ -x /usr/bin/redis-server ] && exit 0
    [ "$(id -u)" = 0 ] || { echo "redis-server is not installed: run this as root (apt-get install redis-server)" >&2; exit 1; }
    # Without systemd, the package's postinst would start the system redis on port 6379 unless a policy-rc.d forbids
    # it. Docker images ship one; a bare CI machine may not (as in test/lab/lab.sh).
    own_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; own_policy=1
    fi
    rc=0
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null; } || rc=$?
    [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
    [ "$rc" = 0 ] || { echo "apt-get install redis-server failed (exit $rc)" >&2; exit "$rc"; }
    ;;
  *) echo "usage: bash test/redis.sh [up]" >&2; exit 2 ;;
esac
