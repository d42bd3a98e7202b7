#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on loopback for the checkpoint tests: installs
# Debian's postgresql when its programs are missing, then starts a throwaway cluster of its
# own (trust authentication, loopback only, port $AUTOML_PG_PORT) and creates the database
# `automl`. Idempotent; returns at once when the server answers. Prints the URL to use.
set -euo pipefail

PORT=${AUTOML_PG_PORT:-54329}
DATA=${AUTOML_PG_DATA:-/var/tmp/automl-postgres}
URL="postgresql://postgres@127.0.0.1:$PORT/automl"

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
answers() { "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PORT"; }

if [ -z "$(pg_bin)" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "postgres: PostgreSQL is not installed; run 'sudo make postgres'" >&2
        exit 1
    fi
    echo "postgres: installing postgresql with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
fi
BIN=$(pg_bin)

# initdb and the server refuse to run as root: as root, the cluster belongs to `postgres`.
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if ! answers; then
    if [ ! -f "$DATA/PG_VERSION" ]; then
        mkdir -p "$DATA"
        [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$DATA"
        as_owner "$BIN/initdb" -D "$DATA" -U postgres -A trust >/dev/null
    fi
    echo "postgres: starting a server on 127.0.0.1:$PORT (data: $DATA)" >&2
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 30 \
        -o "-p $PORT -c listen_addresses=127.0.0.1 -k $DATA" start >/dev/null
fi
if ! "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'automl'" \
        | grep -q 1; then
    "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres automl
fi
echo "postgres: ready at $URL" >&2
echo "$URL"
