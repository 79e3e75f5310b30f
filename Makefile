# Developer entry points. Each target works on a fresh Debian/Ubuntu machine, also as root.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PG_MAJOR ?= 15
PG_SHARE := /usr/share/postgresql/$(PG_MAJOR)/extension
APT_PACKAGES := postgresql-$(PG_MAJOR)-pgtap libtap-parser-sourcehandler-pgtap-perl \
	postgresql-$(PG_MAJOR)-plpgsql-check
SQL_DIRS := sql supabase
# Deno for the Edge Function: the npm package `deno` (it ships the binary) in .local/deno,
# with its own module cache there, so nothing outside the repository is touched.
DENO_VERSION ?= 2.9.6
DENO_HOME := .local/deno
DENO := $(DENO_HOME)/node_modules/.bin/deno
DENO_DIR ?= $(CURDIR)/$(DENO_HOME)/cache
export DENO_DIR
FUNCTIONS := supabase/functions
FUNCTION := $(FUNCTIONS)/customer-management

.PHONY: help setup system-deps test pytest pgtap lint demo run db-start db-stop bench \
	deno deno-test

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

setup: $(VENV)/.installed system-deps deno ## create .venv with the kit and dev tools; install pgTAP/pg_prove/plpgsql_check; Deno

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { \
		echo "could not create $(VENV): install python3-venv (Python >= 3.11)" >&2; exit 1; }
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

system-deps: ## install pgTAP, pg_prove and plpgsql_check from apt when missing
	@missing=0; \
	command -v pg_prove >/dev/null || missing=1; \
	test -f $(PG_SHARE)/pgtap.control || missing=1; \
	test -f $(PG_SHARE)/plpgsql_check.control || missing=1; \
	if [ $$missing = 0 ]; then echo "pgTAP, pg_prove and plpgsql_check are installed"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update && apt-get install -y --no-install-recommends $(APT_PACKAGES); \
	else \
		echo "missing pgTAP / pg_prove / plpgsql_check; install them with:" >&2; \
		echo "  sudo apt-get update && sudo apt-get install -y $(APT_PACKAGES)" >&2; \
		exit 1; \
	fi

deno: $(DENO_HOME)/.cached ## Deno from npm into .local/deno; cache the Edge Function's npm imports

$(DENO_HOME)/.installed-$(DENO_VERSION):
	@command -v npm >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get update && apt-get install -y --no-install-recommends nodejs npm; \
		else \
			echo "npm is missing; install it with: sudo apt-get install -y nodejs npm" >&2; \
			exit 1; \
		fi; }
	npm install --prefix $(DENO_HOME) --no-audit --no-fund --loglevel=error deno@$(DENO_VERSION)
	$(DENO) --version
	@touch $@

# deno.lock pins supabase-js; --frozen fails instead of silently changing it.
$(DENO_HOME)/.cached: $(DENO_HOME)/.installed-$(DENO_VERSION) $(FUNCTION)/deno.json $(FUNCTION)/deno.lock
	$(DENO) install --frozen --config $(FUNCTION)/deno.json --entrypoint $(FUNCTION)/index.ts
	@touch $@

test: setup ## pytest, the Deno tests, then the pgTAP files; non-zero on any failure
	@status=0; \
	$(MAKE) --no-print-directory pytest || status=1; \
	$(MAKE) --no-print-directory deno-test || status=1; \
	$(MAKE) --no-print-directory pgtap || status=1; \
	exit $$status

pytest: ## the Python test suite against a real local Postgres
	$(PY) -m pytest

deno-test: deno ## the Edge Function's Deno unit tests (supabase/functions/**/*_test.ts)
	$(DENO) test --cached-only $(FUNCTIONS)

pgtap: ## supabase/tests/database/*.sql through pg_prove on a throwaway migrated database
	$(PY) -m customer_management.pgtap_runner

lint: setup ## ruff, ruff format, sqlfluff, mypy, deno fmt/lint/check, plpgsql_check
	$(VENV)/bin/ruff check python_client tests
	$(VENV)/bin/ruff format --check python_client tests
	$(VENV)/bin/sqlfluff lint $(SQL_DIRS)
	$(VENV)/bin/mypy
	$(DENO) fmt --check $(FUNCTIONS)
	$(DENO) lint $(FUNCTIONS)
	$(DENO) check --frozen --config $(FUNCTION)/deno.json $(FUNCTION)/index.ts
	$(PY) -m pytest -q -p no:cacheprovider tests/test_plpgsql_check.py

demo: $(VENV)/.installed ## replay the brief's three scenarios on a throwaway database
	$(PY) -m customer_management demo

run: $(VENV)/.installed ## the local API (PostgREST-compatible proxy) on the local database
	$(PY) -m customer_management run

db-start: $(VENV)/.installed ## start the local database in .local/db and print its URL
	$(PY) -m customer_management db start

db-stop: ## stop the local database
	$(PY) -m customer_management db stop

bench: $(VENV)/.installed ## benchmarks
	$(PY) -m customer_management.bench
