# Everyday commands. `make run` and `make test` work on a machine with only Python 3.11 and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
PIP_INSTALL := $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: run test soak lint bench bench-scale demo migrate proto clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(PIP_INSTALL) -e .
	touch $@

# The dev tools, and the client generator the OpenAPI test runs in a venv of its own,
# .venv/codegen (its typer pin conflicts with the CLI's): requirements-codegen.txt.
$(DEV_STAMP): pyproject.toml constraints.txt requirements-codegen.txt | $(BIN)/python
	$(PIP_INSTALL) -e '.[dev]'
	$(PYTHON) -m venv $(VENV)/codegen
	$(VENV)/codegen/bin/python -m pip install --disable-pip-version-check -q \
	  -r requirements-codegen.txt
	touch $@ $(RUN_STAMP)

## run: install, migrate, load the demo data into an empty database, serve on 127.0.0.1:8000
run: $(RUN_STAMP)
	$(BIN)/stockline migrate
	$(BIN)/stockline demo --if-empty
	$(BIN)/stockline serve

migrate: $(RUN_STAMP)
	$(BIN)/stockline migrate

demo: $(RUN_STAMP)
	$(BIN)/stockline migrate
	$(BIN)/stockline demo

## test: install the dev dependencies and run the whole suite (CI=true: databases required)
# In TEST_WORKERS processes (pytest-xdist): each has its own databases and live servers, and
# most of a test's time is spent waiting on sockets, so four share two cores well (six
# loaded the machine past what timing-bound tests allow). Work stealing keeps one worker
# from ending the run alone with the slowest tests. 3,841 tests took 5 min 7 s with CI=true
# on this 2-core machine on an idle day, about 540 CPU seconds; on a slower day the same
# 3,841 took 9 min 44 s, and 4,518 10 min 56 s (the cores are always busy); 4,875 (with
# GraphQL, gRPC and the dashboard in a browser) 10 min 2 s on an otherwise idle machine.
# Measured again on a shared machine (other suites' load average 3-12), with
# `/usr/bin/time -v` (user+sys of pytest, its workers, their servers and tools): 4,875
# took 7 min 5 s and 745 CPU seconds (353 in the workers, 338 in the servers and tools);
# after each test database became a copy of a migrated template, a starting server's
# readiness probes shared one HTTP client, and the crash/retry, stateful and rollup tests
# kept their long versions for `make soak`, 4,873 took 7 min 55 s under more load and
# 683 CPU seconds (298 + 337). What is left is about half the workers' (some 60 ms a
# test) and half the servers' (some 2 CPU seconds a start, 1-3 % of a core each while it
# idles): the wall time follows the machine's other load more than the suite. With the
# nginx failover, RabbitMQ bus, metrics and dashboard-session tests, 5,181 took 7 min 36 s
# on an otherwise idle machine (2026-12-04), 694 + 90 CPU seconds: over the 6 minutes
# wanted, since two cores give at most 120 CPU seconds a minute; with the hold sweeper
# reading before it writes, 7 min 22 s and 755 CPU seconds. With read replicas (a
# throwaway primary and replica), partitions, the read cache and traces, 5,365 took
# 12 min 3 s on an otherwise idle machine (2026-12-04 19:05-19:17 UTC): more than the
# 184 new tests explain; an idle server now costs 74 CPU ticks in 20 s with the read
# cache's 0.25 s poll of the event log (57 without), a start about 2 s. Not yet found.
TEST_WORKERS ?= 4
# Bytecode and rewritten tests are cached even where the environment says not to: every
# worker and every live server would compile the same modules again.
test: export PYTHONDONTWRITEBYTECODE :=
test: $(DEV_STAMP)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

## soak: the long versions of the fault, fuzzing and property tests (STOCKLINE_SOAK=1)
SOAK_TESTS := tests/integration/test_stateful_invariants.py tests/e2e/test_fuzz.py \
  tests/e2e/test_resilience.py tests/e2e/test_crash_retry.py tests/e2e/test_resource_limits.py \
  tests/e2e/test_event_resume.py tests/integration/test_sales_rollup.py tests/e2e/test_rate_limits.py
soak: $(DEV_STAMP)
	STOCKLINE_SOAK=1 $(BIN)/pytest $(SOAK_TESTS) $(PYTEST_ARGS)

## proto: regenerate the gRPC code (src/stockline/entrypoints/grpc/v1) from proto/stockline/v1;
# the generated code is committed (make run needs no protoc), and a test fails when it is stale.
proto: $(DEV_STAMP)
	$(BIN)/python proto/generate.py

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

## bench: Stockline vs the same database work done raw, side by side (bench/README.md)
bench: $(DEV_STAMP)
	@command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null 2>&1 || \
	  { echo "make bench needs wrk: apt-get install wrk"; exit 1; }
	$(BIN)/python -m bench $(BENCH_ARGS)
	$(BIN)/python -m bench.streams --seconds 5

## bench-scale: PostgreSQL with 10 M levels and a 10 M-row ledger (about 15 minutes), then
# the same 10 M rows in plain and in monthly-partitioned tables (bench.partitions, 8-16 minutes),
# then 10 M levels plain and partitioned by location (bench.level_partitions)
bench-scale: $(DEV_STAMP)
	@command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null 2>&1 || \
	  { echo "make bench-scale needs wrk: apt-get install wrk"; exit 1; }
	$(BIN)/python -m bench.scale $(BENCH_ARGS)
	$(BIN)/python -m bench.partitions $(PARTITION_BENCH_ARGS)
	$(BIN)/python -m bench.level_partitions $(LEVEL_PARTITION_BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
