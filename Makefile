# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
export ANONYMIZED_TELEMETRY := False
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run serve ingest test lint bench eval clean browser

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The CPU build of torch first (from the local wheel), so nothing pulls a CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[st,dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the browser tests (Playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "install Chromium: sudo apt-get install -y chromium"; fi; }

ingest: install
	$(PY) ingest.py

run: install
	@$(PY) -c "from kb.settings import Settings; from kb.store import Store; import sys; sys.exit(0 if Store(Settings.from_env()).active() else 1)" 2>/dev/null || $(PY) ingest.py
	$(PY) app.py

test: install browser
	$(BIN)/ruff check kb tests bench ingest.py app.py
	$(BIN)/mypy
	$(BIN)/pytest -q

eval: install
	$(BIN)/kb eval

# BENCHMARKS.md; e.g. make bench BENCH_ARGS=--quick
bench: install
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .kb tests/artifacts .pytest_cache .mypy_cache .ruff_cache
