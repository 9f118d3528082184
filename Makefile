# Lotsen: the two commands in the README are `make chat` and `make test`.
# Both create .venv on first use and install Lotsen into it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: chat run test lint eval bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

## chat: the console conversation on the embedded defaults (no Telegram token needed)
chat: $(STAMP)
	$(BIN)/lotsen chat

## run: the Telegram bot (needs LOTSEN_TELEGRAM_TOKEN)
run: $(STAMP)
	$(BIN)/lotsen run

## test: lint and the whole test suite
test: $(STAMP)
	$(BIN)/ruff check bot tests bench
	$(BIN)/python -m pytest

## eval: routing figures on the shared development set
eval: $(STAMP)
	$(BIN)/lotsen eval ../shared/eval/dev.yaml

## bench: routing quality, latency and end-to-end throughput tables
bench: $(STAMP)
	$(BIN)/python bench/routing.py
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/e2e.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
