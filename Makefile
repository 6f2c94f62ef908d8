# Distribution Control: the two commands.
#   make run   set up what is missing, install/update the addons in $(DB), serve Odoo on :8069
#   make test  set up what is missing, run lint and every test (Odoo's and pytest's) on throw-away databases
#   make soak  the fault tests (two servers on one database, kill -9; receiver outage; inbound soak; PostgreSQL
#              restart) at soak size: SOAK_EVENTS, default 5000; SOAK_SECONDS of inbound soak, default 600
#   make pg-restart  only the PostgreSQL restart under webhook load (restarts the machine's PostgreSQL, as root)
ODOO_PATH ?= /opt/odoo
DB ?= distribution
VENV ?= $(CURDIR)/.venv
PYTHON ?= python3
export ODOO_PATH DB VENV PYTHON

.PHONY: setup run test lint soak pg-restart clean
setup:
	@bash scripts/setup.sh

run: setup
	@bash scripts/run.sh

test: setup
	@$(VENV)/bin/python scripts/run_tests.py

lint: setup
	@PHASES=lint $(VENV)/bin/python scripts/run_tests.py

soak: setup
	@PHASES=soak $(VENV)/bin/python scripts/run_tests.py

pg-restart: setup
	@PHASES=soak SOAK_TESTS=tests/test_fault_postgres.py $(VENV)/bin/python scripts/run_tests.py

clean:
	rm -rf .test-results .ruff_cache
