# Two commands do everything on a fresh machine (see README.md):
#   make run    set up, then run the agent on $(CONFIG)
#   make test   set up (packages, data, Docker engine, sandbox image, bubblewrap, PostgreSQL), then run the tests
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
CONFIG ?= configs/mnist.yaml
ARGS ?=

.PHONY: run test setup data engine image bubblewrap postgres lint

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

data: setup
	bash scripts/setup-data.sh $(PY)

engine:
	bash scripts/docker-engine.sh

image: setup engine
	$(PY) -m sandbox.build

# bubblewrap: the namespaces of the process sandbox (used when no Docker engine answers).
bubblewrap:
	bash scripts/bubblewrap.sh

# A throwaway PostgreSQL server on loopback, for the tests of PostgreSQL checkpoints.
postgres:
	bash scripts/postgres.sh >/dev/null

# bubblewrap is not fatal for a run: Docker may be there instead (the run says if neither is).
run: setup data
	-@bash scripts/bubblewrap.sh
	$(PY) -m graph.run $(CONFIG) $(ARGS)

test: setup lint data engine image bubblewrap postgres
	$(PY) -m pytest $(ARGS)

# Lint and format are part of the tests: CI fails on either.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
