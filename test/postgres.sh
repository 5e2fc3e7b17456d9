#!/usr/bin/env bash
# The PostgreSQL the suites' PostgreSQL run uses (and `npm run demo -- --group`): Debian's postgresql, its default
# cluster on 127.0.0.1:5432, a role `mc` that may create databases. `up` installs and starts it (as root, as CI runs),
# and prints the URL to put in MC_TEST_POSTGRES_URL; `url` prints it only.
set -euo pipefail
URL="postgresql://mc:mc@127.0.0.1:5432/postgres"
case "${1:-up}" in
  url) echo "$URL" ;;
  up)
    if ! command -v pg_ctlcluster >/dev/null; then
      [ "$(id -u)" = 0 ] || { echo "postgresql is not installed: run this as root (apt-get install postgresql)" >&2; exit 1; }
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
    version=$(ls /usr/lib/postgresql | sort -n | tail -1)
    pg_lsclusters -h | grep -q "^$version main" || pg_createcluster --locale C.UTF-8 "$version" main >/dev/null
    pg_ctlcluster "$version" main start >/dev/null 2>&1 || pg_ctlcluster "$version" main status >/dev/null
    runuser -u postgres -- psql -qtAc "select 1 from pg_roles where rolname = 'mc'" | grep -q 1 ||
      runuser -u postgres -- psql -qc "create role mc login createdb password 'mc'"
    # Dropping a test database ends what still reads it, autovacuum's worker included: that takes pg_signal_backend.
    runuser -u postgres -- psql -qc "grant pg_signal_backend to mc" >/dev/null
    echo "$URL"
    ;;
  *) echo "usage: bash test/postgres.sh [up|url]" >&2; exit 2 ;;
esac
