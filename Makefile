# The newcomer's commands: `make run` (the site on embedded defaults), `make demo` (the site with
# a fake Stripe and a fake LMS: buy, refund, see commissions) and `make test` (the suite).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run demo test install install-dev lint migrate worker beat clean bench bench-scaling bench-mix bench-deps \
	e2e e2e-deps mongo-deps test-sql test-mongo mongo-server

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --disable-pip-version-check -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt $(VENV)/.installed
	$(PIP) install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(PY) manage.py migrate --noinput

# manage.py defaults to maaledu.settings.development: DEBUG on, SQLite, no external service.
run: migrate
	$(PY) manage.py seed_demo
	@echo "Serving MaalEdu on http://$(HOST):$(PORT)/ (Ctrl-C to stop)"
	$(PY) manage.py runserver $(HOST):$(PORT)

# No Redis, database server or accounts: SQLite in .demo/, tasks in-process, fakes on threads.
demo: install
	$(PY) -m maaledu.demo --host $(HOST) --port $(PORT)

# The whole suite twice: on DATABASE_URL's database (SQLite by default, PostgreSQL in CI), then
# on MongoDB (a server of our own: fakes/with_mongo.py). Both run even when the first fails.
test: install-dev e2e-deps mongo-deps
	@status=0; \
	$(PY) -m pytest $(PYTEST_ARGS) || status=$$?; \
	$(PY) -m fakes.with_mongo --optional $(PY) -m pytest $(PYTEST_ARGS) || status=$$?; \
	exit $$status

# The suite on SQL only, or on MongoDB only (docs/mongodb.md).
test-sql: install-dev e2e-deps mongo-deps
	$(PY) -m pytest $(PYTEST_ARGS)

test-mongo: install-dev e2e-deps mongo-deps
	$(PY) -m fakes.with_mongo $(PY) -m pytest $(PYTEST_ARGS)

# A MongoDB wire-protocol server on 127.0.0.1:$(MONGO_PORT) for trying the site on MongoDB
# (in memory: its data goes when it stops). In another shell:
#   DATABASE_URL=mongodb://127.0.0.1:$(MONGO_PORT)/maaledu make run
MONGO_PORT ?= 27017
mongo-server: mongo-deps
	$(PY) -m fakes.with_mongo --port $(MONGO_PORT) --serve

# Browser tests (e2e/README.md): Playwright (requirements-dev) drives Debian's Chromium, which
# this installs when missing (as root, with apt-get); never a browser download. Without it, and
# outside CI, the browser tests skip with the reason.
CHROMIUM := /usr/bin/chromium
e2e-deps:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "e2e-deps: installing Debian's chromium"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; }; \
	  else \
	    echo "e2e-deps: $(CHROMIUM) is missing: as root, apt-get install chromium"; \
	  fi; }

# The MongoDB wire-protocol server the importer's tests read from (fakes/mongo_server.py): a real
# mongod when one is on PATH, else mongoeco (PyPI), which needs Python 3.13: pyenv's when pyenv
# exists, else python3.13 on PATH. Without that interpreter, and outside CI, those tests skip.
MONGO_VENV := .venv-mongo
mongo-deps: $(MONGO_VENV)/.installed

$(MONGO_VENV)/.installed: requirements-mongo.txt Makefile
	@py=""; \
	if command -v pyenv >/dev/null && [ -x "$$(pyenv root)/versions/3.13.0/bin/python" ]; then \
	  py="$$(pyenv root)/versions/3.13.0/bin/python"; \
	elif command -v pyenv >/dev/null && ls -d "$$(pyenv root)"/versions/3.13* >/dev/null 2>&1; then \
	  py="$$(ls -d "$$(pyenv root)"/versions/3.13* | tail -1)/bin/python"; \
	elif command -v python3.13 >/dev/null; then \
	  py="$$(command -v python3.13)"; \
	fi; \
	if [ -z "$$py" ]; then \
	  echo "mongo-deps: no Python 3.13 (pyenv or python3.13 on PATH): the importer tests will skip"; \
	  exit 0; \
	fi; \
	rm -rf $(MONGO_VENV) && "$$py" -m venv $(MONGO_VENV) \
	  && $(MONGO_VENV)/bin/pip install --disable-pip-version-check -q -r requirements-mongo.txt \
	  && touch $@

e2e: install-dev e2e-deps
	$(PY) -m pytest e2e $(PYTEST_ARGS)

lint: install-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

# The Celery app defaults to production settings; these development targets pick development's
# unless DJANGO_SETTINGS_MODULE says otherwise.
DEV_SETTINGS := DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-maaledu.settings.development}

worker: install
	$(DEV_SETTINGS) $(VENV)/bin/celery -A maaledu worker --loglevel=INFO

beat: install
	$(DEV_SETTINGS) $(VENV)/bin/celery -A maaledu beat --loglevel=INFO

# Load benchmarks (bench/README.md): PostgreSQL and Redis on loopback, wrk and valgrind from
# Debian's packages.
bench-deps: install
	@for tool in wrk valgrind; do \
	  command -v $$tool >/dev/null || apt-get install -y -q $$tool \
	    || { apt-get update -q && apt-get install -y -q $$tool; }; \
	done

bench: bench-deps
	$(PY) -m bench $(BENCH_ARGS)

bench-scaling: bench-deps
	$(PY) -m bench --scaling $(BENCH_ARGS)

bench-mix: bench-deps
	$(PY) -m bench --mix $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(MONGO_VENV) staticfiles .pytest_cache
