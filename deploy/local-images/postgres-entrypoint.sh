#!/bin/bash
# Entry point of the local PostgreSQL image: the part of the official image's entry point
# that compose.yaml uses. On a new data directory: initdb with POSTGRES_USER as superuser,
# password authentication over TCP, POSTGRES_DB, then every /docker-entrypoint-initdb.d
# script against a server listening on its socket only. Then runs the command as postgres.
set -euo pipefail
if [ "${1:-postgres}" != postgres ] && [ "${1:0:1}" != - ]; then exec "$@"; fi
[ "${1:-}" = postgres ] && shift
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" postgres "$@"
fi
: "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}"
export PGPORT=${PGPORT:-5432}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  [ -n "${POSTGRES_PASSWORD:-}" ] || { echo "POSTGRES_PASSWORD must be set" >&2; exit 1; }
  initdb -D "$PGDATA" -U "$POSTGRES_USER" -E UTF8 --auth-local=trust --auth-host=scram-sha-256 \
    --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") >/dev/null
  printf "host all all all scram-sha-256\n" >>"$PGDATA/pg_hba.conf"
  printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"   # as the official image
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -p $PGPORT" start >/dev/null
  export PGUSER=$POSTGRES_USER
  [ "$POSTGRES_DB" = postgres ] || psql -v ON_ERROR_STOP=1 -q -d postgres -c "CREATE DATABASE \"$POSTGRES_DB\""
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh)  echo "entrypoint: running $f"; bash "$f" ;;
      *.sql) echo "entrypoint: running $f"; psql -v ON_ERROR_STOP=1 -q -d "$POSTGRES_DB" -f "$f" ;;
      *) ;;
    esac
  done
  unset PGUSER
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "entrypoint: PostgreSQL init process complete"
fi
exec postgres -D "$PGDATA" -p "$PGPORT" "$@"
