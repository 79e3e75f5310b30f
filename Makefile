# Developer entry points. Each target works on a fresh Debian/Ubuntu machine, also as root:
# what is missing is installed (apt when root; otherwise the one line to run is printed).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PG_MAJOR ?= 15
PG_BIN := /usr/lib/postgresql/$(PG_MAJOR)/bin
PG_SHARE := /usr/share/postgresql/$(PG_MAJOR)/extension
TEST_APT_PACKAGES := postgresql-$(PG_MAJOR)-pgtap libtap-parser-sourcehandler-pgtap-perl \
	postgresql-$(PG_MAJOR)-plpgsql-check postgresql-$(PG_MAJOR)-cron
SQL_DIRS := sql supabase
# Deno for the Edge Function: the npm package `deno` (it ships the binary) in .local/deno,
# with its own module cache there, so nothing outside the repository is touched.
DENO_VERSION ?= 2.9.6
DENO_HOME := .local/deno
DENO := $(DENO_HOME)/node_modules/.bin/deno
DENO_DIR ?= $(CURDIR)/$(DENO_HOME)/cache
export DENO_DIR
# The real Supabase CLI, pinned, from npm (db push / migration list need no Docker).
SUPABASE_CLI_VERSION ?= 2.117.0
SUPABASE_CLI_HOME := .local/supabase-cli
SUPABASE_CLI := $(SUPABASE_CLI_HOME)/node_modules/.bin/supabase
FUNCTIONS := supabase/functions
FUNCTION := $(FUNCTIONS)/customer-management
# The support console loads supabase-js from its own folder (no CDN): the UMD bundle of the
# pinned npm package, copied in by `make console`. Chromium (Debian's) runs its browser tests.
SUPABASE_JS_VERSION ?= 2.119.1
CONSOLE_NPM := .local/console-npm
CONSOLE_VENDOR := console/vendor
CONSOLE_JS = $(wildcard console/*.js)
CHROMIUM ?= /usr/bin/chromium

# apt-get install as root, else print the command for the user to run.
define apt_install
	if [ "$$(id -u)" = 0 ]; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update && apt-get install -y --no-install-recommends $(1); \
	else \
		echo "missing: $(1); install with:" >&2; \
		echo "  sudo apt-get update && sudo apt-get install -y $(1)" >&2; \
		exit 1; \
	fi
endef

.PHONY: help setup postgres system-deps pooler-deps test pytest pgtap lint demo run db-start db-stop bench bench-full fuzz schemathesis chaos \
	node deno deno-test supabase-cli contract console browser-deps console-screenshots

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

setup: $(VENV)/.installed system-deps pooler-deps deno supabase-cli console browser-deps ## everything make test needs: .venv, PostgreSQL, pgTAP, plpgsql_check, PgBouncer, Deno, Supabase CLI, the console, Chromium

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { \
		echo "could not create $(VENV): install python3-venv (Python >= 3.11)" >&2; exit 1; }
	$(PY) -m pip install --quiet -e '.[all,dev]'
	@touch $@

postgres: ## PostgreSQL server binaries (initdb, pg_ctl, postgres)
	@if command -v pg_ctl >/dev/null && command -v initdb >/dev/null \
		|| ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "PostgreSQL server binaries are installed"; \
	else \
		$(call apt_install,postgresql-$(PG_MAJOR)); \
	fi

system-deps: postgres ## pgTAP, pg_prove, plpgsql_check and pg_cron for the tests
	@missing=0; \
	command -v pg_prove >/dev/null || missing=1; \
	test -f $(PG_SHARE)/pgtap.control || missing=1; \
	test -f $(PG_SHARE)/plpgsql_check.control || missing=1; \
	test -f $(PG_SHARE)/pg_cron.control || missing=1; \
	if [ $$missing = 0 ]; then echo "pgTAP, pg_prove, plpgsql_check and pg_cron are installed"; exit 0; fi; \
	$(call apt_install,$(TEST_APT_PACKAGES))

node: ## Node.js and npm (for Deno and the Supabase CLI, both installed from npm)
	@if command -v npm >/dev/null; then echo "npm is installed"; else $(call apt_install,nodejs npm); fi

deno: $(DENO_HOME)/.cached ## Deno from npm into .local/deno; cache the Edge Function's npm imports

$(DENO_HOME)/.installed-$(DENO_VERSION): | node
	npm install --prefix $(DENO_HOME) --no-audit --no-fund --loglevel=error deno@$(DENO_VERSION)
	$(DENO) --version
	@touch $@

# deno.lock pins supabase-js; --frozen fails instead of silently changing it.
$(DENO_HOME)/.cached: $(DENO_HOME)/.installed-$(DENO_VERSION) $(FUNCTION)/deno.json $(FUNCTION)/deno.lock
	$(DENO) install --frozen --config $(FUNCTION)/deno.json --entrypoint $(FUNCTION)/index.ts
	@touch $@

supabase-cli: $(SUPABASE_CLI_HOME)/.installed-$(SUPABASE_CLI_VERSION) ## the Supabase CLI from npm into .local/supabase-cli

$(SUPABASE_CLI_HOME)/.installed-$(SUPABASE_CLI_VERSION): | node
	npm install --prefix $(SUPABASE_CLI_HOME) --no-audit --no-fund --loglevel=error \
		-E supabase@$(SUPABASE_CLI_VERSION)
	$(SUPABASE_CLI) --version
	@touch $@

console: $(CONSOLE_VENDOR)/.supabase-js-$(SUPABASE_JS_VERSION) ## vendor supabase-js (npm's UMD bundle) into the support console

$(CONSOLE_VENDOR)/.supabase-js-$(SUPABASE_JS_VERSION): | node
	@mkdir -p $(CONSOLE_NPM) $(CONSOLE_VENDOR)
	cd $(CONSOLE_NPM) && npm pack --silent --no-fund @supabase/supabase-js@$(SUPABASE_JS_VERSION) >/dev/null
	tar -xzf $(CONSOLE_NPM)/supabase-supabase-js-$(SUPABASE_JS_VERSION).tgz -C $(CONSOLE_NPM) \
		package/dist/umd/supabase.js package/LICENSE
	cp $(CONSOLE_NPM)/package/dist/umd/supabase.js $(CONSOLE_VENDOR)/supabase.js
	cp $(CONSOLE_NPM)/package/LICENSE $(CONSOLE_VENDOR)/supabase-js.LICENSE
	@rm -f $(CONSOLE_VENDOR)/.supabase-js-*
	@touch $@

console-screenshots: setup ## run the console's browser tests and copy their screenshots to docs/console/
	$(PY) -m pytest -q -p no:cacheprovider tests/browser
	cp .local/screenshots/*.png docs/console/

# Never fails: without root and without PgBouncer the pooler tests skip and say how to install it.
pooler-deps: ## PgBouncer (Debian's) for the tests through a pooler in transaction mode
	@if command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ]; then echo "pgbouncer is installed"; \
	elif [ "$$(id -u)" = 0 ]; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update && apt-get install -y --no-install-recommends pgbouncer; \
	else \
		echo "missing: pgbouncer (the tests through PgBouncer will skip); install with:" >&2; \
		echo "  sudo apt-get update && sudo apt-get install -y pgbouncer" >&2; \
	fi

# Never fails: without root and without chromium the browser tests skip and say how to install it.
browser-deps: ## Chromium for the console's browser tests (apt when root, else the line to run)
	@if [ -x $(CHROMIUM) ]; then echo "chromium is installed"; \
	elif [ "$$(id -u)" = 0 ]; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update && apt-get install -y --no-install-recommends chromium; \
	else \
		echo "missing: chromium (the console's browser tests will skip); install with:" >&2; \
		echo "  sudo apt-get update && sudo apt-get install -y chromium" >&2; \
	fi

test: setup ## pytest, the Deno tests, then the pgTAP files; non-zero on any failure
	@status=0; \
	$(MAKE) --no-print-directory pytest || status=1; \
	$(MAKE) --no-print-directory deno-test || status=1; \
	$(MAKE) --no-print-directory pgtap || status=1; \
	exit $$status

pytest: ## the Python test suite against a real local Postgres
	$(PY) -m pytest

# FUZZ_REQUESTS=N sends N instead; the numbers go to .local/fuzz-report.json.
FUZZ_REQUESTS ?= 10000
fuzz: $(VENV)/.installed system-deps ## the long fuzz: 10,000 hostile requests through the proxy (docs/reliability.md)
	@mkdir -p .local
	CUSTOMER_MANAGEMENT_FUZZ_REQUESTS=$(FUZZ_REQUESTS) CUSTOMER_MANAGEMENT_FUZZ_RANDOM=1 \
	CUSTOMER_MANAGEMENT_FUZZ_REPORT=$(CURDIR)/.local/fuzz-report.json \
		$(PY) -m pytest -p no:cacheprovider -s tests/http/test_fuzz.py

# SCHEMATHESIS_EXAMPLES=N examples per operation, SCHEMATHESIS_SEED=S (default: a new one each
# run); the JSON reports and logs go to .local/schemathesis/.
SCHEMATHESIS_EXAMPLES ?= 1000
SCHEMATHESIS_SEED ?= $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
schemathesis: $(VENV)/.installed system-deps ## the long schemathesis run: every RPC of the OpenAPI document, ten checks, service-role and anon keys (docs/reliability.md)
	@mkdir -p .local/schemathesis
	CUSTOMER_MANAGEMENT_SCHEMATHESIS_EXAMPLES=$(SCHEMATHESIS_EXAMPLES) \
	CUSTOMER_MANAGEMENT_SCHEMATHESIS_SEED=$(SCHEMATHESIS_SEED) \
	CUSTOMER_MANAGEMENT_SCHEMATHESIS_REPORTS=$(CURDIR)/.local/schemathesis \
		$(PY) -m pytest -p no:cacheprovider -s tests/http/test_schemathesis.py

# CHAOS_CYCLES=N runs N kill-and-recover cycles; the numbers go to .local/chaos-report.json.
CHAOS_CYCLES ?= 12
chaos: $(VENV)/.installed postgres ## kill -9 of the database mid-load, CHAOS_CYCLES times over every kill point (docs/reliability.md)
	@mkdir -p .local
	CUSTOMER_MANAGEMENT_CHAOS_CYCLES=$(CHAOS_CYCLES) \
	CUSTOMER_MANAGEMENT_CHAOS_REPORT=$(CURDIR)/.local/chaos-report.json \
		$(PY) -m pytest -p no:cacheprovider -s tests/chaos/test_kill_mid_load.py

deno-test: deno ## the Edge Function's Deno unit tests (supabase/functions/**/*_test.ts)
	$(DENO) test --cached-only $(FUNCTIONS)

pgtap: ## supabase/tests/database/*.sql through pg_prove on a throwaway migrated database
	$(PY) -m tools.pgtap_runner

contract: $(VENV)/.installed ## regenerate the Python and TypeScript types from contract.schema.json
	$(PY) -m tools.contract_codegen

lint: setup ## ruff, ruff format, sqlfluff, mypy, deno fmt/lint/check, plpgsql_check
	$(VENV)/bin/ruff check python_client bench tools tests
	$(VENV)/bin/ruff format --check python_client bench tools tests
	$(VENV)/bin/sqlfluff lint $(SQL_DIRS)
	$(VENV)/bin/mypy
	$(PY) -m tools.contract_codegen --check
	$(DENO) fmt --check $(FUNCTIONS)
	$(DENO) lint $(FUNCTIONS)
	$(DENO) check --frozen --config $(FUNCTION)/deno.json $(FUNCTION)/index.ts
	$(DENO) fmt --check --line-width 100 $(CONSOLE_JS)
	$(DENO) lint --rules-exclude=no-window,no-window-prefix $(CONSOLE_JS)
	$(PY) -m pytest -q -p no:cacheprovider tests/sql/test_plpgsql_check.py

# ARGS passes options on, e.g. make run ARGS="--port 8000".
demo: $(VENV)/.installed postgres ## replay three scenarios (chatbot then web, web then chatbot, a conflict) on a throwaway database
	$(PY) -m customer_management demo $(ARGS)

run: $(VENV)/.installed postgres ## the local API (PostgREST-compatible proxy) on the local database
	@$(MAKE) --no-print-directory console || echo "the support console at /console needs supabase-js: make console" >&2
	$(PY) -m customer_management run $(ARGS)

db-start: $(VENV)/.installed postgres ## start the local database in .local/db and print its URL
	$(PY) -m customer_management db start

db-stop: ## stop the local database
	$(PY) -m customer_management db stop

# Splink and DuckDB (the deduplication baseline) only ever go into the benchmark's venv.
bench: $(VENV)/.installed postgres ## a few minutes: 10k-1M customers against pgbench; writes bench/RESULTS.md
	$(PY) -m pip install --quiet -e '.[bench-splink]'
	$(PY) -m bench $(ARGS)

bench-full: $(VENV)/.installed postgres ## under an hour: adds 10M customers, 15 s per point; writes bench/full/RESULTS.md
	$(PY) -m pip install --quiet -e '.[bench-splink]'
	$(PY) -m bench --full $(ARGS)
