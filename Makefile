# carecenter: `make run` to try it, `make test` to check it. Needs only python3, make and git.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
MAIL_PORT ?= 2525

.PHONY: run test lint format clean bench bench-smoke modeler-bundle

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

BENCH_STAMP := $(VENV)/.bench-stamp

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

var/admin-token: | $(STAMP)
	mkdir -p var
	umask 077 && $(BIN)/python -c "import secrets; print('cc_' + secrets.token_urlsafe(32))" > var/admin-token

var/secret-key: | $(STAMP)
	mkdir -p var
	umask 077 && $(BIN)/python -c "import secrets; print(secrets.token_hex(32))" > var/secret-key

var/demo-password: | $(STAMP)
	mkdir -p var
	umask 077 && $(BIN)/python -c "import secrets; print(secrets.token_urlsafe(12))" > var/demo-password

run: $(STAMP) var/admin-token var/demo-password var/secret-key
	$(BIN)/carecenter db upgrade
	$(BIN)/carecenter deploy processes
	CARECENTER_PUBLIC_URL="$${CARECENTER_PUBLIC_URL:-http://$(HOST):$(PORT)}" \
	  $(BIN)/carecenter demo --password-file var/demo-password
	@echo ""
	@echo "Admin API token (also in var/admin-token): $$(cat var/admin-token)"
	@echo "Sign in at http://$(HOST):$(PORT)/login as demo-staff (every team), demo-designer or demo-admin,"
	@echo "  or as one of the team members listed above; password $$(cat var/demo-password) (in var/demo-password)"
	@echo "Mail to the care center: SMTP on $(HOST):$(MAIL_PORT) (any address; see README, \"Send it a mail\")"
	@export CARECENTER_BOOTSTRAP_TOKEN="$$(cat var/admin-token)" CARECENTER_SECRET_KEY="$$(cat var/secret-key)" \
	  CARECENTER_PUBLIC_URL="$${CARECENTER_PUBLIC_URL:-http://$(HOST):$(PORT)}" CARECENTER_ALLOWED_HOSTS="$${CARECENTER_ALLOWED_HOSTS:-localhost}" \
	  CARECENTER_REQUEST_LOG="$${CARECENTER_REQUEST_LOG:-0}"; \
	  $(BIN)/carecenter mail receive --host $(HOST) --port $(MAIL_PORT) >/dev/null & receiver=$$!; \
	  trap 'kill $$receiver 2>/dev/null; wait $$receiver 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/carecenter serve --host $(HOST) --port $(PORT)

# Two test processes (pytest-xdist) by default: the suite is half waiting on databases and browsers.
TEST_WORKERS ?= 2

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q -n $(TEST_WORKERS)

# Benchmarks (#10): needs PostgreSQL on 127.0.0.1:5432 (CARECENTER_BENCH_PG_URL to change). See docs/bench.md.
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench

# Tiny sizes, for CI: keeps the benchmark code working; results go to var/bench/smoke-results.
bench-smoke: $(BENCH_STAMP)
	$(BIN)/python -m bench --smoke

# The modeler page's JavaScript (#20): bpmn-js and its properties panel from npm, pinned by
# api/modeler/package-lock.json. Needs node and npm; the result in api/static/modeler/ is committed
# with its licenses and SHA256SUMS, so `make run` and `make test` need neither.
modeler-bundle:
	cd api/modeler && npm ci --no-audit --no-fund && node build.mjs

lint: $(STAMP)
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
