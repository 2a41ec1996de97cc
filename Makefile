# `make run` and `make test` do every set-up step themselves on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# PostgreSQL the suite also runs against (the machine's local server, trust auth). Set empty to skip it.
RF_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export RF_TEST_POSTGRES_URL

.PHONY: run test install lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/rf init --demo
	$(BIN)/rf serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: install lint
	$(BIN)/pytest

bench: install
	$(BIN)/python -m bench.lifecycle

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
