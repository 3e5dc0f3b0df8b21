# Cairn: `make run` to use it, `make test` to check it. Both set up everything they need.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi.py
# PostgreSQL/Redis used by the second test pass (CI starts them; see .ci/run).
TEST_PG_URL ?= postgresql://postgres@127.0.0.1:5432/cairn
TEST_REDIS ?= redis://127.0.0.1:6379
# --durations: each pass lists its slowest tests, to keep `make test` within its 15 minutes
PYTEST_ARGS ?= --durations=15
WORKERS ?= 2
# gunicorn processes for `make serve`: (2 x cores) + 1, gunicorn's advice for CPU-bound work (bench/tickets_list.py).
WEB_WORKERS ?= $(shell echo $$(( 2 * $$(nproc) + 1 )))

.PHONY: run serve worker test test-embedded test-services install install-dev chromium zip-tool axe-core dovecot fonts bench bench-quick security-scan clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## run: install, migrate, load demo data once, serve on http://127.0.0.1:5000 with a worker
# Development: the public development SECRET_KEY is allowed here only (app.config.check_secret_key).
run: export CAIRN_ENV ?= development
run: install fonts
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo
	@if [ -n "$$REDIS_URL" ]; then \
		echo "Starting an RQ worker against $$REDIS_URL"; \
		$(BIN)/flask worker & WORKER=$$!; \
		trap 'kill $$WORKER 2>/dev/null' EXIT INT TERM; \
		$(BIN)/flask run --host 127.0.0.1 --port 5000; \
	else \
		echo "No REDIS_URL: jobs run on the embedded in-process queue."; \
		$(BIN)/flask run --host 127.0.0.1 --port 5000 --no-reload; \
	fi

## serve: production mode with gunicorn (set DATABASE_URL, REDIS_URL, SECRET_KEY; run `make worker` beside it)
serve: install fonts
	$(BIN)/flask db upgrade
	$(BIN)/gunicorn --workers $(WEB_WORKERS) --bind 127.0.0.1:8000 --access-logfile - wsgi:app

## worker: an RQ worker, started again 2 s after it fails (a stop, Ctrl-C or SIGTERM, ends it: exit 0)
## (production: run it under systemd or supervisord, see README)
worker: install fonts
	@until $(BIN)/flask worker; do echo "flask worker failed ($$?); starting it again in 2 s"; sleep 2; done

## chromium: Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium)
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
		|| echo "could not install chromium (browser tests will skip outside CI)"; }

## zip-tool: Debian's zip, the baseline of bench/projects_archives.py (installed only if missing)
zip-tool:
	@command -v zip >/dev/null 2>&1 || { \
		echo "Installing Debian's zip for the archive benchmark"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zip) \
		|| echo "could not install zip (the benchmark skips its zip baseline)"; }

## fonts: the PDF reports' Unicode fonts (Debian packages; installed only if missing). reportlab embeds TrueType
## outlines only: DejaVu Sans (Latin, Greek, Cyrillic, symbols), Droid Sans Fallback (CJK), Symbola (the rest, emoji)
PDF_FONTS := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts-droid-fallback/truetype/DroidSansFallback.ttf /usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf
fonts:
	@missing=0; for f in $(PDF_FONTS); do [ -f "$$f" ] || missing=1; done; \
	if [ $$missing = 1 ]; then \
		echo "Installing the PDF fonts (fonts-dejavu-core fonts-droid-fallback fonts-symbola)"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			fonts-dejavu-core fonts-droid-fallback fonts-symbola) \
		|| echo "could not install the PDF fonts (PDF exports fail; their tests fail in CI)"; \
	fi

## axe-core: the accessibility engine the tour test injects into every page (npm, pinned in tests/browser/axe)
AXE := tests/browser/axe/node_modules/axe-core/axe.min.js
axe-core: $(AXE)
$(AXE): tests/browser/axe/package.json tests/browser/axe/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm not found: apt-get install npm (the axe run will skip outside CI)"; exit 0; }
	cd tests/browser/axe && npm ci --no-audit --no-fund --silent || echo "could not install axe-core (the axe run will skip outside CI)"

## dovecot: Debian's dovecot-imapd, the throwaway IMAP server of the helpdesk email tests (no service is started)
dovecot:
	@command -v dovecot >/dev/null 2>&1 || { \
		echo "Installing Debian's dovecot-imapd for the email channel tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd) \
		|| echo "could not install dovecot-imapd (the IMAP tests will skip outside CI)"; }

## test: the whole suite twice: embedded default (SQLite, in-process queue), then PostgreSQL + Redis
test: install-dev chromium zip-tool axe-core dovecot fonts test-embedded test-services

test-embedded: install-dev
	@echo "== Test pass 1/2: SQLite + embedded queue"
	$(BIN)/python -m pytest -n $(WORKERS) -q $(PYTEST_ARGS)

test-services: install-dev
	@echo "== Test pass 2/2: PostgreSQL + Redis + real worker processes"
	TEST_DATABASE_URL=$(TEST_PG_URL) TEST_REDIS_URL=$(TEST_REDIS) $(BIN)/python -m pytest -n $(WORKERS) -q $(PYTEST_ARGS)

bench: install-dev zip-tool fonts
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

## bench-quick: every benchmark at its smallest size (the convention in bench/README.md; CI runs it as a test)
bench-quick: install-dev zip-tool fonts
	@for b in bench/*.py; do echo "== $$b"; BENCH_QUICK=1 $(BIN)/python $$b || exit 1; done

## security-scan: bandit, semgrep, then wapiti (as each role) and sqlmap against a throwaway local instance on
## 127.0.0.1:5601; the scanners install in their own venv (.scanvenv), not the project's (docs/security-scan.md)
security-scan: install
	APP_PYTHON=$(abspath $(BIN))/python tools/security_scan.sh $(SCAN)

clean:
	rm -rf $(VENV) instance .pytest_cache
