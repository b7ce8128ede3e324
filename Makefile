# The two commands of the README: `make run` and `make test`. Both install what
# they need first (a virtualenv in .venv; redis-server and chromium for tests).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench load

run: $(STAMP)
	DEBUG=$${DEBUG:-1} $(PY) manage.py run_embedded $(ADDRPORT)

test: $(STAMP) .make/system-deps
	$(PY) -m pytest $(ARGS)

# The development tools live in devtools/, an app that only devtools.settings
# installs: the product and its image never carry them.
DEVTOOLS := DJANGO_SETTINGS_MODULE=devtools.settings

# PostgreSQL only (DATABASE_URL); docs/performance.md says how to read it.
bench: $(STAMP)
	$(DEVTOOLS) $(PY) manage.py bench $(BENCH_ARGS)

# PostgreSQL only (DATABASE_URL); Redis from REDIS_URL, or a private one.
# docs/reliability.md says what it checks.
load: $(STAMP)
	$(DEVTOOLS) $(PY) manage.py loadtest $(LOAD_ARGS)

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

# The worker tests start real redis-server processes of their own; the
# browser tests drive the system's Chromium (Playwright never downloads one).
SYSTEM_PACKAGES := redis-server:redis-server chromium:chromium
.make/system-deps:
	@missing=""; for pair in $(SYSTEM_PACKAGES); do \
	  command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing$$missing"; \
	    apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "The tests need:$$missing (e.g. sudo apt-get install$$missing)"; exit 1; \
	  fi; \
	fi
	@mkdir -p .make && touch $@
