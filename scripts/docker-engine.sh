#!/usr/bin/env bash
# Makes sure a Docker engine answers: installs docker.io (and debootstrap, which
# `python -m sandbox.build` needs without a registry) when missing, starts dockerd by hand
# when no engine answers (machines of this kind have no init system running it), and waits
# until `docker info` works. Idempotent; returns at once when an engine already answers.
set -euo pipefail

LOG=${DOCKERD_LOG:-/var/log/automl-dockerd.log}
PIDFILE=${DOCKERD_PIDFILE:-/var/run/automl-dockerd.pid}

engine_answers() { docker info >/dev/null 2>&1; }

if command -v docker >/dev/null && engine_answers; then
    echo "docker-engine: an engine answers already"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "docker-engine: no Docker engine answers; run 'sudo make engine' (installing and starting one needs root)" >&2
    exit 1
fi

if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
    echo "docker-engine: installing docker.io and debootstrap with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq docker.io debootstrap >/dev/null
fi

if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    echo "docker-engine: dockerd (pid $(cat "$PIDFILE")) is running; waiting for it to answer"
else
    # No bridge and no iptables: sandbox containers run with network "none" anyway, and
    # the machine may not allow iptables changes.
    echo "docker-engine: starting dockerd (log: $LOG)"
    setsid dockerd --storage-driver=overlay2 --iptables=false --ip6tables=false \
        --bridge=none --pidfile "$PIDFILE" >"$LOG" 2>&1 </dev/null &
fi

for _ in $(seq 1 60); do
    if engine_answers; then
        echo "docker-engine: engine ready ($(docker version --format '{{.Server.Version}}'))"
        exit 0
    fi
    sleep 0.5
done
echo "docker-engine: dockerd did not answer within 30 s; see $LOG" >&2
tail -n 20 "$LOG" >&2 || true
exit 1
