# Two entry points (see README): `make run` and `make test`.
# Each creates the virtual environment on first use and installs carezones into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup run test bench bench-optimiser lint clean

$(BIN)/.carezones-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

setup: $(BIN)/.carezones-installed

run: setup
	$(BIN)/carezones run

test: setup
	$(BIN)/python -m pytest

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
