# Two commands on a fresh machine: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamps: reinstall only when a requirements file changes.
$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(BIN)/python -m pip install -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(BIN)/streamlit run serve.py --server.port 8501  # localhost only: .streamlit/config.toml

test: $(VENV)/.dev
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest

# Benchmarks (see BENCHMARKS.md). Offline, add BENCH_FLAGS=--default-shaped-models: the default
# architectures with random weights (Whisper's decoder ends each window at once).
BENCH_FLAGS ?=
bench: $(VENV)/.dev
	$(BIN)/python -m bench frames
	$(BIN)/python -m bench ingest $(BENCH_FLAGS)
	$(BIN)/python -m bench retrieval $(BENCH_FLAGS)
	$(BIN)/python -m bench prompt
	$(BIN)/python -m bench clips
	$(BIN)/python -m bench videos $(BENCH_FLAGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV)
