#!/usr/bin/env bash
# Installs the packages that ship the paper's data sets offline (nothing yet: the
# scikit-learn sets come with scikit-learn).
set -euo pipefail
