# The two commands of the README: `make run` and `make test`. Both install what
# they need first (a virtualenv in .venv, and redis-server for the worker tests).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench-deps

run: $(STAMP)
	DEBUG=$${DEBUG:-1} $(PY) manage.py run_embedded $(ADDRPORT)

test: $(STAMP) .make/system-deps
	$(PY) -m pytest $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# The worker tests start real redis-server processes of their own.
.make/system-deps:
	@command -v redis-server >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; \
	  else \
	    echo "The tests need redis-server: sudo apt-get install redis-server (or brew install redis)"; exit 1; \
	  fi; }
	@mkdir -p .make && touch $@
