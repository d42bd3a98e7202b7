#!/usr/bin/env bash
# Installs and starts a Docker engine when none answers (nothing yet).
set -euo pipefail
