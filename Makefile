# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-all lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev,web-test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/scientist demo --out demo-output

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m ''

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/posterior_accuracy.py

clean:
	rm -rf $(VENV) demo-output

# A local PostgreSQL server for the guard service's audit store (benchmarks/service_load.py);
# not part of `make test`. Debian's package, one cluster, a `scientist` role and database:
#   postgresql+psycopg://scientist:scientist@127.0.0.1/scientist
.PHONY: postgres
postgres: $(STAMP)
	command -v pg_ctlcluster >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql)
	$(BIN)/python -m pip install -q 'psycopg[binary]>=3.1'
	v=$$(ls /usr/lib/postgresql | sort -n | tail -1); \
	  pg_lsclusters -h | grep -q "^$$v main" || pg_createcluster $$v main; \
	  pg_ctlcluster $$v main start 2>/dev/null || pg_ctlcluster $$v main status
	su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='scientist'\"" | grep -q 1 || \
	  su postgres -c "psql -c \"CREATE ROLE scientist LOGIN PASSWORD 'scientist'\""
	su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='scientist'\"" | grep -q 1 || \
	  su postgres -c "createdb -O scientist scientist"
	@echo "PostgreSQL is up: --db postgresql+psycopg://scientist:scientist@127.0.0.1/scientist"
