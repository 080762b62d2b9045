# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test lint bench system-deps

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements-test.txt $(VENV)/.installed
	$(PIP) install -q -r requirements-test.txt
	touch $@

## Start the registry on the embedded default (SQLite, filesystem storage, filesystem broker):
## gunicorn, a Celery worker and Celery beat in the foreground. Ctrl-C stops all three.
run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py harbor_bootstrap
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py harbor_run

## Install what the tests need (pip, and apt packages when root) and run the whole suite.
test: $(VENV)/.installed-test system-deps
	$(PY) -m pytest $(PYTEST_ARGS)

system-deps:
	@scripts/install-test-deps.sh

## ruff, and the layer contract between apps (pyproject.toml [tool.importlinter]).
lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

bench: $(VENV)/.installed-test system-deps
	$(PY) bench/run_bench.py $(BENCH_ARGS)
