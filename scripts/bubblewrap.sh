#!/usr/bin/env bash
# Makes sure bubblewrap is installed: the process sandbox (sandbox/process.py) runs generated
# code in namespaces that bwrap makes, for machines without a Docker engine and for CI.
# Installs the Debian package when missing; idempotent.
set -euo pipefail

if command -v bwrap >/dev/null; then
    echo "bubblewrap: $(bwrap --version)"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "bubblewrap: not installed; run 'sudo make bubblewrap' (or: sudo apt-get install bubblewrap)" >&2
    exit 1
fi

echo "bubblewrap: installing it with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq bubblewrap >/dev/null
echo "bubblewrap: $(bwrap --version)"
