# trialdm: `make run` starts everything on embedded defaults; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
TRANSLATIONS := trialdm/web/translations
PORT ?= 5000
PYTEST_WORKERS ?= 2

.PHONY: install run test lint db clean translations browser-deps screenshots wheel-check bench

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

# Compiled catalogs are built from the committed .po files, never committed themselves.
CATALOGS := $(patsubst %.po,%.mo,$(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po))
$(TRANSLATIONS)/%/LC_MESSAGES/messages.mo: $(TRANSLATIONS)/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile -d $(TRANSLATIONS) -l $* >/dev/null

install: $(STAMP) $(CATALOGS)

db: install
	$(BIN)/trialdm db upgrade
	$(BIN)/trialdm sites sync
	$(BIN)/trialdm instruments sync

# Web app, Celery worker and beat on SQLite under instance/ with the embedded broker.
run: db
	$(BIN)/trialdm demo load
	@echo ""
	@echo "  trialdm is starting on http://127.0.0.1:$(PORT)/ with these demo accounts:"
	@$(BIN)/trialdm demo accounts
	@echo "  Ctrl-C stops all."
	@echo ""
	@# One Ctrl-C stops the three once; when one of them ends, the others are stopped too.
	@deploy/run-together \
	  "$(BIN)/celery -A trialdm.worker:celery worker --loglevel=INFO --concurrency=2" \
	  "$(BIN)/celery -A trialdm.worker:celery beat --loglevel=INFO --schedule instance/celerybeat-schedule" \
	  "$(BIN)/trialdm run --host 127.0.0.1 --port $(PORT)"

lint: install
	$(BIN)/ruff check .

# Page text: collect the messages, merge them into every language, compile the catalogs.
translations: install
	$(BIN)/pybabel extract -F trialdm/web/babel.cfg -k lazy_gettext -k _l -k N_ --no-location \
	  --sort-output -o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --ignore-obsolete \
	  --no-fuzzy-matching --width 100
	$(BIN)/pybabel compile -d $(TRANSLATIONS)

# Debian's chromium for the browser tests (never a downloaded browser build). Installed
# when missing under CI=true or when this is root with apt-get; elsewhere the browser
# tests skip (under CI=true they must run).
CHROMIUM ?= /usr/bin/chromium
browser-deps:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif { [ "$$CI" = "true" ] || [ "$$(id -u)" = "0" ]; } && command -v apt-get >/dev/null; then \
	  echo "== installing chromium (apt-get)"; \
	  SUDO=$$( [ "$$(id -u)" = "0" ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	else echo "== chromium not installed: browser tests will be skipped"; fi

# PNGs of the main pages at phone and desktop widths, into screenshots/.
screenshots: install browser-deps
	env -u TRIALDM_TEST_DATABASE_URL $(BIN)/python -m tests.browser.screenshots screenshots

# SQLite always; PostgreSQL again when TRIALDM_TEST_DATABASE_URL is set.
test: install browser-deps
	$(BIN)/ruff check .
	env -u TRIALDM_TEST_DATABASE_URL $(BIN)/pytest -n $(PYTEST_WORKERS) -q
	@if [ -n "$$TRIALDM_TEST_DATABASE_URL" ]; then \
	  echo "== again on PostgreSQL ($$TRIALDM_TEST_DATABASE_URL)"; \
	  $(BIN)/pytest -n $(PYTEST_WORKERS) -q; \
	fi

# The quick sizes of every benchmark in bench/ (about 10 minutes on an idle 2-core machine;
# api_write needs PostgreSQL on 127.0.0.1). Each prints its ratio to a floor measured in
# the same run; the exit status is 1 when any of them failed. See bench/README.md.
BENCH_QUICK := \
  "bench/api_write.py --requests 400 --rounds 2 --time-limit 120" \
  "bench/pages.py --sizes 2k,10k --requests 5" \
  "bench/fidelity.py --participants 10000 --contacts 50000 --rounds 3" \
  "bench/schedule.py 10000" \
  "bench/status_grid.py 10000" \
  "bench/reminder_scan.py --participants 10000 --sites 10 --rounds 1" \
  "bench/summaries.py --size 10k" \
  "bench/exports.py --size 10k" \
  "bench/participant_import.py --rows 10000" \
  "bench/translation_pseudonymisation.py" \
  "bench/vs_tableone.py --size upsides,10k"
bench: install
	@status=0; for run in $(BENCH_QUICK); do \
	  echo "== $$run"; $(BIN)/python $$run || status=1; \
	done; exit $$status

# Build the wheel, install it outside the checkout and run the service from it
# (PostgreSQL and Redis on 127.0.0.1); CI runs it after the tests.
wheel-check:
	bash .ci/wheel-install

clean:
	rm -rf $(VENV) instance .pytest_cache build dist
