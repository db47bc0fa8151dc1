# The README's two commands: `make serve` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: serve test lint setup assets bench bench-ingest bench-load clean

# Silent recipe: the key a first start prints is the first line after the set-up.
serve: setup
	@$(VENV)/bin/evalql serve --demo --host $(HOST) --port $(PORT)

# Lint and types first (seconds), then the suite.
test: setup lint
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check evalql tests bench scripts
	$(VENV)/bin/mypy

setup: $(VENV)/.installed assets

# Reinstall when the dependency list changes.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# Browser code from npm (not kept in git), served by evalql offline: GraphiQL's and the
# API reference's bundles, and the comparison page (web/, typed against the live schema).
assets: $(VENV)/.installed
	$(PY) scripts/build_assets.py
	$(PY) scripts/build_web.py

# Both databases, W(1k), W(10k), W(100k): 30–40 minutes. BENCH_ARGS narrows it (bench/README.md).
bench: setup
	$(PY) bench/group_runs.py $(BENCH_ARGS)

bench-ingest: setup
	$(PY) bench/ingest.py

# 32 clients mixing comparisons, single reads and ingest for 60 s (bench/README.md); BENCH_ARGS narrows it.
bench-load: setup
	$(PY) bench/load.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) assets/node_modules evalql/static/graphiql evalql/static/docs web/node_modules evalql/static/web .pytest_cache .hypothesis
