# Quick start: `make demo` (a generated course end to end) and `make test`.
# Each target creates the virtual environment on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO   ?= demo-course
# Test processes: one per core, at most 4; a test file's tests stay in one process, so its
# module fixtures (a Prefect server and workers, a rendered course) are made once.
# `make test TEST_WORKERS=0` runs the suite in this process, one test after another.
TEST_WORKERS ?= auto

.PHONY: demo test lint env sysdeps clean

# System packages the tests use (headless Chromium renders the HTML QC report).
# Installed once, only when missing and when this is a Debian machine we are root on.
SYSDEPS_STAMP := $(VENV)/.sysdeps
$(SYSDEPS_STAMP):
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian chromium for the HTML report tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium is missing and cannot be installed here: the HTML screenshot test will be skipped"; \
	  fi; \
	fi
	@mkdir -p $(VENV) && touch $@

sysdeps: $(SYSDEPS_STAMP)

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

env: $(BIN)/.installed

demo: $(BIN)/.installed
	$(BIN)/courseware demo $(DEMO)

test: $(BIN)/.installed $(SYSDEPS_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
