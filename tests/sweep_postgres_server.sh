#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for tests/test_sweep_postgres.py (Debian's postgresql package).
#   export BIRSWEEP_TEST_POSTGRES_URL=$(bash tests/sweep_postgres_server.sh start /tmp/birsweep-pg)
#   bash tests/sweep_postgres_server.sh stop /tmp/birsweep-pg
# As root it runs the server as the 'postgres' user. Prints the database URL on stdout.
set -euo pipefail
cmd=${1:?start|stop}; dir=${2:-/tmp/birsweep-pg}; port=${BIRSWEEP_PG_PORT:-54329}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "no PostgreSQL server binaries (apt-get install postgresql)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }
case $cmd in
start)
  mkdir -p "$dir"; [ "$(id -u)" = 0 ] && chown postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust >/dev/null
  fi
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
  psql=( "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qAt )
  "${psql[@]}" -c "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='birsweep') THEN
                   CREATE ROLE birsweep LOGIN PASSWORD 's3cret-pw'; END IF; END\$\$;" >/dev/null
  "${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname='birsweep_test'" | grep -q 1 ||
    "${psql[@]}" -c "CREATE DATABASE birsweep_test OWNER birsweep" >/dev/null
  echo "postgresql://birsweep:s3cret-pw@127.0.0.1:$port/birsweep_test" ;;
stop)
  as_pg "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null ;;
*) echo "usage: $0 start|stop [dir]" >&2; exit 2 ;;
esac
