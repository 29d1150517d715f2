# trialdm: `make run` starts everything on embedded defaults; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 5000
PYTEST_WORKERS ?= 2

.PHONY: install run test lint db clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

db: install
	$(BIN)/trialdm db upgrade
	$(BIN)/trialdm sites sync
	$(BIN)/trialdm instruments sync

# Web app, Celery worker and beat on SQLite under instance/ with the embedded broker.
run: db
	$(BIN)/trialdm demo load
	@echo ""
	@echo "  trialdm is starting on http://127.0.0.1:$(PORT)/"
	@echo "  log in as admin@demo.trialdm.org, coordinator@demo.trialdm.org or"
	@echo "  rw.bu@demo.trialdm.org with the password 'demo-password'. Ctrl-C stops all."
	@echo ""
	@trap 'kill 0' INT TERM EXIT; \
	$(BIN)/celery -A wsgi:celery worker --loglevel=INFO --concurrency=2 & \
	$(BIN)/celery -A wsgi:celery beat --loglevel=INFO --schedule instance/celerybeat-schedule & \
	$(BIN)/trialdm run --host 127.0.0.1 --port $(PORT)

lint: install
	$(BIN)/ruff check .

# SQLite always; PostgreSQL again when TRIALDM_TEST_DATABASE_URL is set.
test: install
	$(BIN)/ruff check .
	env -u TRIALDM_TEST_DATABASE_URL $(BIN)/pytest -n $(PYTEST_WORKERS) -q
	@if [ -n "$$TRIALDM_TEST_DATABASE_URL" ]; then \
	  echo "== again on PostgreSQL ($$TRIALDM_TEST_DATABASE_URL)"; \
	  $(BIN)/pytest -n $(PYTEST_WORKERS) -q; \
	fi

clean:
	rm -rf $(VENV) instance .pytest_cache
