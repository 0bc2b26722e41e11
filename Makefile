# Everything a fresh machine needs is installed here: uv in a local tools venv,
# then the project's locked dependencies in .venv.
SHELL := /bin/bash
TOOLS := .tools
UV := $(TOOLS)/bin/uv
UV_VERSION := 0.13.9
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv
# Every process the tests and `make run` start imports both services: compiled once to bytecode
# (the libraries when installed, our code on first import) they start in a third of the time.
# Some shells set PYTHONDONTWRITEBYTECODE, which would make each process compile everything again.
export UV_COMPILE_BYTECODE := 1
unexport PYTHONDONTWRITEBYTECODE

.PHONY: bench-scale install system-tools run test openapi clean bench profile-intake bench-intake bench-delivery bench-events bench-mixed bench-long-case test-faults test-contract-deep soak

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

install: $(UV)
	$(UV) sync --frozen --quiet

## The Debian packages the tests use (scripts/debian-packages.txt), installed when missing.
system-tools:
	bash scripts/ensure_debian_packages.sh

## Run both services on SQLite with fresh demo data (Ctrl-C stops both).
run: install
	rm -f var/referral_api.db* var/provider_gateway.db*
	$(UV) run diversion-link migrate
	$(UV) run diversion-link demo-seed --env-file .run/demo.env
	$(UV) run diversion-link serve --env-file .run/demo.env

## The whole test suite: SQLite always, PostgreSQL too when TEST_POSTGRES_URL is set.
## TEST_WORKERS processes share it (pytest-xdist), a test file to each at a time (its
## module-scoped apps and processes are started once); TEST_WORKERS=0 runs it in this process.
## Four on two cores: the end-to-end and fault files spend much of their time waiting on the
## processes they start and the faults they wait out, and the other workers fill it (the whole
## run took 12m34s with four, 13m32s with three, on this 2-core VM).
## Bytecode is cached even where the environment says not to (PYTHONDONTWRITEBYTECODE): each test
## worker, and each of the 200 or so service processes and commands the tests start, would
## otherwise compile the code again (collection alone took 17 s a worker instead of 12).
TEST_WORKERS ?= 4
test: install system-tools
	PYTHONDONTWRITEBYTECODE= $(UV) run pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile --durations=15

## Write openapi/*.json from the code.
openapi: install
	$(UV) run python scripts/export_openapi.py

clean:
	rm -rf var .run .venv $(TOOLS)

## Referral intake against a ceiling measured in the same run (docs/PERFORMANCE.md): wrk at 1, 4 and
## 32 connections, BENCH_SECONDS each, first on a minimal app (benchmarks/ceiling_app.py), then on
## POST /v1/referrals, on throw-away PostgreSQL databases (BENCH_POSTGRES_URL's server). Prints
## requests/s, p50, p99, the ratio to the ceiling and each process's RSS; writes benchmarks/results/<UTC time>.json.
## Once with one process per service, once with BENCH_WORKERS (each its own relay and delivery worker), then both side by side.
BENCH_SECONDS ?= 10
BENCH_WORKERS ?= 2
bench: $(UV)
	bash scripts/ensure_debian_packages.sh scripts/bench-debian-packages.txt
	$(UV) run --frozen --quiet --group bench python scripts/bench.py --seconds $(BENCH_SECONDS) --workers 1 $(BENCH_WORKERS)

## Reads as years of cases pile up: 10,000 and 1,000,000 cases loaded in bulk, each into databases of its own (not through
## the API: cases written by the service's code, cloned server-side by INSERT ... SELECT), then a police GET, a timeline page and
## a court's filtered page timed with wrk, the scales in turn, three rounds; the medians of p50/p99, the growth of p99, and the
## EXPLAIN plans of each read's statements (benchmarks/results/scale-<UTC time>*). About 20 minutes and 20 GB of disk.
## Shorter: make bench-scale BENCH_SCALE_ARGS="--scales 10000 100000"
BENCH_SCALE_ARGS ?=
bench-scale: $(UV)
	bash scripts/ensure_debian_packages.sh scripts/bench-debian-packages.txt
	$(UV) run --frozen --quiet --group bench python scripts/bench_scale.py --explain $(BENCH_SCALE_ARGS)

## Where referral_api's CPU goes under intake: py-spy samples (GIL held) for 20 s on PostgreSQL, shares printed.
profile-intake: $(UV)
	$(UV) run --frozen --quiet --group bench python scripts/profile_intake.py --seconds 20

## Print intake latency (p50/p95/p99), throughput and time-to-routed over 1,000 referrals.
bench-intake: install
	$(UV) run python scripts/bench_intake.py -n 1000 -c 8

## Print the time from POST /v1/referrals returning to the provider receiving the webhook, and deliveries/s.
bench-delivery: install
	$(UV) run python scripts/bench_delivery.py -n 1000

## Print signed provider events per second into the gateway, their answer time against intake's,
## and the time until the police system is told of the change (p50/p95/p99).
bench-events: install
	$(UV) run python scripts/bench_events.py -n 1000 -c 8

## Both services as `make run` starts them, on SQLite then on a throw-away PostgreSQL database
## (BENCH_POSTGRES_URL's server): 60 then 200 concurrent clients mixing police posts and reads
## with a provider's signed events and pulls for 30 s. Prints p50/p95/p99/max per kind, 5xx,
## /health latency during the load and 2xx calls without an audit record.
## Shorter: make bench-mixed BENCH_MIXED_ARGS="--seconds 10 --clients 60 --database sqlite"
## One process per service or two (PostgreSQL): BENCH_MIXED_ARGS="--database postgresql --clients 60 --workers 1 2"
BENCH_MIXED_ARGS ?=
bench-mixed: install
	$(UV) run python scripts/bench_mixed.py $(BENCH_MIXED_ARGS)

## Print GET, timeline and provider event p50/p99 on a case of 10 facts and one of 10,000, and their ratio.
bench-long-case: install
	$(UV) run python scripts/bench_long_case.py -n 100

## The contract tests with a deeper sample than `make test`'s (25 generated requests per operation).
test-contract-deep: install
	CONTRACT_MAX_EXAMPLES=300 $(UV) run pytest -q -p no:cacheprovider -n $(TEST_WORKERS) tests/contract/test_schemathesis.py

## The long fault scenario: 1,000 referrals with random kills of the gateway and its worker.
test-faults: install
	FAULT_SOAK_REFERRALS=1000 FAULT_SOAK_KILLS=10 $(UV) run pytest -q -p no:cacheprovider tests/provider_gateway/e2e/test_delivery_faults.py

## The soak: SOAK_REFERRALS referrals and each one's programme of provider events while
## referral_api, provider_gateway (each with its outbox relay) and the gateway's delivery worker
## are SIGKILLed at random and restarted (one kill per 100 referrals). Prints
## "N accepted, N delivered, N lost, N duplicated"; fails if any was lost or duplicated.
## SOAK_DATABASE=postgresql runs on a throw-away PostgreSQL server (or on SOAK_POSTGRES_URL's).
SOAK_REFERRALS ?= 10000
SOAK_DATABASE ?= sqlite
soak: install
	$(UV) run python scripts/soak.py -n $(SOAK_REFERRALS) --database $(SOAK_DATABASE) $(if $(SOAK_POSTGRES_URL),--postgres-url $(SOAK_POSTGRES_URL))
