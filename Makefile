# Two entry points (see README): `make run` and `make test`.
# Each creates the virtual environment on first use and installs carezones into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup browser-deps run test test-browser bench bench-optimiser lint clean

$(BIN)/.carezones-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

setup: $(BIN)/.carezones-installed

run: setup
	$(BIN)/carezones run

# The browser tests drive Debian's chromium (no browser download is possible). Install it when
# it is missing and we may (root + apt-get); otherwise those tests skip and say why.
CHROMIUM ?= /usr/bin/chromium
browser-deps:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium: the browser tests will skip"; \
	  else \
	    echo "note: $(CHROMIUM) is missing and we cannot apt-get install it: the browser tests will skip"; \
	  fi; \
	fi

test: setup browser-deps
	$(BIN)/python -m pytest

test-browser: setup browser-deps
	$(BIN)/python -m pytest -m browser

lint: setup
	$(BIN)/ruff check zoning optimiser maps tests
	$(BIN)/mypy zoning optimiser maps

clean:
	rm -rf $(VENV) out .pytest_cache

# carezones vs the certified bound vs spopt / GerryChain peers (installs the `bench` extra)
bench-optimiser: setup
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	mkdir -p out
	$(BIN)/python bench/bench_optimiser.py --json out/bench_optimiser.json
	$(BIN)/python bench/bench_postcodes.py --json out/bench_postcodes.json
