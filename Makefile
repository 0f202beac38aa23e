# The README's commands. `make run` and `make test` work on a fresh machine with Python 3.11.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
ARGS   ?=

.PHONY: run test lint typecheck unit bench clean

$(VENV)/.bot: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first and pinned: an unpinned torch would resolve to a multi-GB CUDA build
	$(PY) -m pip install torch==2.13.0
	$(PY) -m pip install -e ".[bot]"
	touch $@

$(VENV)/.test: $(VENV)/.bot
	$(PY) -m pip install -e ".[bot,operator,test]"
	touch $@

run: $(VENV)/.bot
	$(VENV)/bin/tradingbot run $(ARGS)

lint: $(VENV)/.test
	$(VENV)/bin/ruff check bot operator tests bench
	$(VENV)/bin/ruff format --check bot operator tests bench

typecheck: $(VENV)/.test
	$(VENV)/bin/mypy

unit: $(VENV)/.test
	$(VENV)/bin/pytest

test: lint typecheck unit

$(VENV)/.bench: $(VENV)/.bot
	$(PY) -m pip install -e ".[bot,operator,test,bench]"
	touch $@

bench: $(VENV)/.bench
	$(PY) bench/env_step.py
	$(PY) bench/agent_latency.py
	$(PY) bench/ppo_update.py
	$(PY) bench/online_loop.py
	$(PY) bench/metrics_scrape.py
	$(PY) bench/operator_reconcile.py
	$(PY) bench/ingest.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
