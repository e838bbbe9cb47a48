# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
export ANONYMIZED_TELEMETRY := False
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install lock run serve ingest test test-fast lint bench eval clean browser

LOCK := requirements.lock
PIP_COMPILE := $(BIN)/pip-compile --quiet --allow-unsafe --extra st --extra dev --strip-extras \
	--no-emit-index-url --no-emit-find-links -o $(LOCK) pyproject.toml requirements.in

# Exactly the versions CI tested, from the committed lock: pip itself first, then every
# package (torch's CPU build from this machine's local wheel), then omnikb with no resolving.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$$(grep '^pip==' $(LOCK))"
	$(PY) -m pip install --quiet -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

# The newest releases within pyproject.toml's ranges, then the whole test suite on them.
# Commit requirements.lock only when the tests pass.
lock: install
	$(PIP_COMPILE) --upgrade
	$(MAKE) install test

# Debian's Chromium for the browser tests (Playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "install Chromium: sudo apt-get install -y chromium"; fi; }

ingest: install
	$(PY) ingest.py

run: install
	@$(PY) -c "from kb.settings import Settings; from kb.index.store import Store; import sys; sys.exit(0 if Store(Settings.from_env()).active() else 1)" 2>/dev/null || $(PY) ingest.py
	$(PY) app.py

test: install browser
	$(BIN)/ruff check kb tests bench ingest.py app.py
	$(BIN)/mypy
	$(BIN)/pytest -q

# Everyday work, in under 3 minutes: the same checks, without the tests that start a server,
# a subprocess or Chromium (markers in pyproject.toml; tests/conftest.py marks and polices them).
FAST := not server and not browser and not slow
test-fast: install
	$(BIN)/ruff check kb tests bench ingest.py app.py
	$(BIN)/mypy
	$(BIN)/pytest -q -m "$(FAST)"

eval: install
	$(BIN)/kb eval

# BENCHMARKS.md; e.g. make bench BENCH_ARGS=--quick
bench: install
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .kb tests/artifacts .pytest_cache .mypy_cache .ruff_cache
