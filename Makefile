# `make run` and `make test` do every set-up step themselves on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# PostgreSQL the suite also runs against (the machine's local server, trust auth). Set empty to skip it.
RF_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export RF_TEST_POSTGRES_URL

NODE_STAMP := node_modules/.installed-stamp
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test install lint bench clean browser wheel

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,audit-test]'
	touch $(STAMP)

# bpmn-js (the diagrams and the modeler) and swagger-ui-dist (the API reference) from the npm registry; in a checkout
# Flask serves them from node_modules/, and building the package copies the files it serves into it (setup.py).
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# The modeler page's one script and stylesheet (bpmn-js, its properties panel, bpmnlint and our provider and lint
# rules from web/modeler/), bundled by esbuild into web/dist/ (generated, not in git; built into the package).
MODELER_BUNDLE := web/dist/modeler.js
$(MODELER_BUNDLE): $(NODE_STAMP) $(wildcard web/modeler/*)
	npm run --silent build

# Browser tests drive Debian's Chromium through Playwright; it is installed here when missing (never downloaded
# by Playwright itself).
browser:
	@command -v $(CHROMIUM) >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

install: $(STAMP) $(NODE_STAMP) $(MODELER_BUNDLE)

# The wheel to install anywhere (dist/request_fulfillment-*.whl): the build copies bpmn/, forms/ and the served
# files of node_modules/ into the package, so it needs npm's install first.
wheel: $(STAMP) $(NODE_STAMP) $(MODELER_BUNDLE)
	$(BIN)/python -m pip wheel --no-deps --wheel-dir dist .

# A developer's terminal reads text log lines; production keeps the JSON default (RF_LOG_FORMAT overrides both).
run: install
	$(BIN)/rf init --demo
	RF_LOG_FORMAT=$${RF_LOG_FORMAT:-text} $(BIN)/rf serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# The suite runs in TEST_WORKERS processes (pytest-xdist); each test module stays in one process (--dist loadscope)
# so its shared servers and databases are made once. TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= 2

test: install browser lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope

bench: install
	$(BIN)/python -m bench.lifecycle
	$(BIN)/python -m bench.api
	$(BIN)/python -m bench.actions
	$(BIN)/python -m bench.wakeup

clean:
	rm -rf $(VENV) instance build dist web/dist .pytest_cache .ruff_cache
