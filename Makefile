# The README's commands. `make run` and `make test` work on a fresh machine with Python 3.11.
# Every install comes from the hash-locked files in requirements/ (`make lock` refreshes them).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
ARGS   ?=
# cpu or cuda: which torch build `make run` installs (the bot image's TORCH build argument likewise)
TORCH  ?= cpu
# what `make images` builds with (podman or docker), and on which base image
ENGINE ?= $(shell command -v podman >/dev/null 2>&1 && echo podman || echo docker)
BASE_IMAGE ?= python:3.11-slim-bookworm
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' contract/tradingbot_contract/__init__.py)
REGISTRY ?= ghcr.io/tradingbot-dev
LOCKED := $(PY) -m pip install --require-hashes --no-deps --disable-pip-version-check
UV_VERSION := 0.13.9

.PHONY: run test test-latest lint typecheck unit bench lock images install-manifest clean

# torch first, alone and from its own lock: an unpinned torch would resolve to a multi-GB CUDA build
$(VENV)/.bot: requirements/torch-$(TORCH).txt requirements/bot-$(TORCH).txt
	$(PYTHON) -m venv $(VENV)
	$(LOCKED) -r requirements/torch-$(TORCH).txt
	$(LOCKED) -r requirements/bot-$(TORCH).txt
	$(PY) -m pip install --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.test: requirements/torch-cpu.txt requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(LOCKED) -r requirements/torch-cpu.txt
	$(LOCKED) -r requirements/dev.txt
	$(PY) -m pip install --no-deps --no-build-isolation -e .
	touch $@

run: $(VENV)/.bot
	$(VENV)/bin/tradingbot run $(ARGS)

lint: $(VENV)/.test
	$(VENV)/bin/ruff check bot operator contract tests bench
	$(VENV)/bin/ruff format --check bot operator contract tests bench
	$(VENV)/bin/lint-imports

typecheck: $(VENV)/.test
	$(VENV)/bin/mypy

unit: $(VENV)/.test
	$(VENV)/bin/pytest

test: lint typecheck unit

# The suite against the newest versions pyproject.toml allows (torch stays 2.13.0): what `make lock` would pick up
test-latest:
	rm -rf .venv-latest
	$(PYTHON) -m venv .venv-latest
	.venv-latest/bin/pip install --require-hashes --no-deps -r requirements/torch-cpu.txt
	.venv-latest/bin/pip install --upgrade --upgrade-strategy eager -e ".[bot,operator,test]"
	.venv-latest/bin/pip list --format=freeze
	.venv-latest/bin/pytest

lock:
	$(PYTHON) -m venv .venv-tools
	.venv-tools/bin/pip install --disable-pip-version-check uv==$(UV_VERSION)
	UV=$(CURDIR)/.venv-tools/bin/uv requirements/lock.sh

bench: $(VENV)/.test
	$(PY) bench/env_step.py
	$(PY) bench/agent_latency.py
	$(PY) bench/ppo_update.py
	$(PY) bench/online_loop.py
	$(PY) bench/pretrain.py
	$(PY) bench/metrics_scrape.py
	$(PY) bench/operator_reconcile.py
	$(PY) bench/ingest.py
	$(PY) bench/journal.py
	$(PY) bench/edge_bound.py
	$(PY) bench/cli_startup.py

images:
	$(ENGINE) build -f Dockerfile.bot --build-arg BASE_IMAGE=$(BASE_IMAGE) --build-arg TORCH=$(TORCH) \
		-t $(REGISTRY)/tradingbot-bot:$(VERSION)$(if $(filter cuda,$(TORCH)),-cuda) .
	$(ENGINE) build -f Dockerfile.operator --build-arg BASE_IMAGE=$(BASE_IMAGE) \
		-t $(REGISTRY)/tradingbot-operator:$(VERSION) .

# dist/install.yaml: config/default in one file (`kubectl apply --server-side -f dist/install.yaml`)
install-manifest:
	mkdir -p dist
	kubectl kustomize config/default > dist/install.yaml

clean:
	rm -rf $(VENV) .venv-latest .venv-tools .pytest_cache .mypy_cache .ruff_cache .hypothesis
