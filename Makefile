# The newcomer's commands: `make run` (the site on embedded defaults) and `make test` (the suite).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-dev lint migrate worker beat clean bench bench-scaling bench-mix bench-deps \
	e2e e2e-deps

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

run: migrate
	$(PY) manage.py seed_demo
	@echo "Serving MaalEdu on http://$(HOST):$(PORT)/ (Ctrl-C to stop)"
	$(PY) manage.py runserver $(HOST):$(PORT)

test: install-dev e2e-deps
	$(PY) -m pytest $(PYTEST_ARGS)

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

e2e: install-dev e2e-deps
	$(PY) -m pytest e2e $(PYTEST_ARGS)

lint: install-dev
	$(PY) -m ruff check .

worker: install
	$(VENV)/bin/celery -A maaledu worker --loglevel=INFO

beat: install
	$(VENV)/bin/celery -A maaledu beat --loglevel=INFO

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
	rm -rf $(VENV) staticfiles .pytest_cache
