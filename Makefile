# COS: `make run` (demo on SQLite, eager Celery) and `make test` (the suite).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
ADDRESSES ?= 400
HOST ?= 127.0.0.1
PORT ?= 8000
SIMULATOR_STATE ?= simulator-state.json
# The demo's history (make run): months of a network's life before today, simulated once on a new database.
HISTORY_SUBSCRIBERS ?= 120
HISTORY_MONTHS ?= 3

# Local development defaults; production sets DEBUG=false and a SECRET_KEY (see README).
export DEBUG ?= true
# The links in the messages the demo prints lead to this server.
export SITE_URL ?= http://$(HOST):$(PORT)

.PHONY: install run serve test lint format bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

run: install
	$(PY) manage.py migrate --noinput
	@trap 'kill 0' EXIT; \
	$(PY) manage.py run_olt_simulator --port 8101 --auto-discover --state-file $(SIMULATOR_STATE) & \
	$(PY) manage.py wait_for_simulator --port 8101 && \
	DEMO_HISTORY_SUBSCRIBERS=$(HISTORY_SUBSCRIBERS) DEMO_HISTORY_MONTHS=$(HISTORY_MONTHS) \
		$(PY) manage.py seed_demo --addresses $(ADDRESSES) && \
	echo && \
	echo "COS is starting on http://$(HOST):$(PORT)/" && \
	echo "  portal (address search)  http://$(HOST):$(PORT)/" && \
	echo "  operator admin           http://$(HOST):$(PORT)/admin/" && \
	echo "  provider API docs        http://$(HOST):$(PORT)/api/docs/" && \
	echo "  health check             http://$(HOST):$(PORT)/healthz" && \
	echo "Celery tasks run eagerly in-process. Beside the server run the periodic jobs of the beat schedule" && \
	echo "(manage.py run_periodic --loop: event and provisioning sweeps, draft finalization, payment sweep, lifecycle," && \
	echo "contract sync, cycle billing; each once at start, then on its schedule) and the element-manager simulator" && \
	echo "(http://127.0.0.1:8101, Adtran/Nokia/Calix API shapes, its state kept in $(SIMULATOR_STATE))." && \
	{ $(PY) manage.py run_periodic --loop & \
	  $(PY) manage.py runserver $(HOST):$(PORT); }

test: install
	@if [ -n "$$DATABASE_URL" ]; then echo "make test: database from DATABASE_URL"; else echo "make test: SQLite (set DATABASE_URL for PostgreSQL)"; fi
	@if [ -n "$$REDIS_URL" ]; then echo "make test: Celery broker from REDIS_URL (real worker tests on)"; else echo "make test: eager Celery (set REDIS_URL for the real-worker tests)"; fi
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	@test -n "$$DATABASE_URL" || { echo "make bench needs DATABASE_URL (PostgreSQL), e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/cos_bench"; exit 2; }
	@command -v wrk >/dev/null || { echo "make bench: installing wrk"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	$(PY) bench/run.py $(BENCH)

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles $(SIMULATOR_STATE)
