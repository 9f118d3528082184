# Lotsen: the two commands in the README are `make chat` and `make test`.
# Both create .venv on first use; each installs only what it needs
# (runtime, + test tools, + benchmark libraries), remembered by its own stamp file.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
STAMP_BENCH := $(VENV)/.installed-bench
# The shared development set when it is beside the checkout, else a set shipped in tests/data.
EVAL_SET ?= $(firstword $(wildcard ../shared/eval/dev.yaml tests/data/dev.yaml) tests/data/holdout.yaml)

.PHONY: chat run test lint eval bench vectors clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(STAMP_RUN)

$(STAMP_BENCH): pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@ $(STAMP_TEST) $(STAMP_RUN)

## chat: the console conversation on the embedded defaults (no Telegram token needed)
chat: $(STAMP_RUN)
	$(BIN)/lotsen chatt

## run: the Telegram bot (needs LOTSEN_TELEGRAM_TOKEN and LOTSEN_SECRET)
run: $(STAMP_RUN)
	$(BIN)/lotsen kor

# Test processes: most end-to-end tests wait on sockets and timers, so more workers than cores pay.
TEST_WORKERS ?= 4

## test: lint and the whole test suite (with the bench libraries, so the benchmarks' smoke tests run too)
test: $(STAMP_BENCH)
	$(BIN)/ruff check bot tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

## vectors: validate the knowledge base and write its vectors beside it (after editing knowledge/)
vectors: $(STAMP_RUN)
	$(BIN)/lotsen kontrollera

## eval: routing figures on the development set
eval: $(STAMP_RUN)
	$(BIN)/lotsen utvardera $(EVAL_SET)

## bench: routing quality, latency and end-to-end throughput tables
bench: $(STAMP_BENCH)
	$(BIN)/python bench/routing.py
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/e2e.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache build
