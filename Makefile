# Two commands on a fresh machine with Python 3.11 and make:
#   make demo   — bootstrap .venv, run the whole pipeline on the simulated platform, serve it
#   make test   — bootstrap .venv, run the test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(INSTALLED): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

demo: $(INSTALLED)
	$(BIN)/memoryhole demo $(ARGS)

test: $(INSTALLED)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	# lint-imports on the stages laid out as installed (see [tool.importlinter] in pyproject.toml)
	$(BIN)/python -m pytest -q tests/test_layout.py -k contracts_hold

# Speed and memory targets (bench/README.md); BENCH_SIZES, BENCH_REPEATS, ... from the environment.
# BENCH=quick runs every benchmark at tiny sizes (tests/test_bench.py does).
bench: $(INSTALLED)
	$(BIN)/python bench/run.py $(BENCH)

clean:
	rm -rf $(VENV) build *.egg-info
