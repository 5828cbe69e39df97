# StatMusePicks. `make demo` starts everything on this machine; `make test` runs the tests.
SHELL := /bin/bash
# uv from PATH, else the one pip installs into this Python (`python3 -m uv`).
UV ?= $(or $(shell command -v uv 2>/dev/null),python3 -m uv)
export UV_PYTHON ?= 3.11

.PHONY: demo up down status test test-unit lint typecheck fmt sync clean bench asyncapi kafka-acls features-doc replay

sync:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --all-packages --quiet

demo: sync
	$(UV) run statmuse demo

up: sync
	$(UV) run statmuse up

down:
	$(UV) run statmuse down

status:
	$(UV) run statmuse status

# The suite runs after the linters: CI (.ci/run) calls exactly this target.
test: sync lint
	$(UV) run pytest

test-unit: sync
	$(UV) run pytest -m "not integration and not e2e"

# ruff (lint and layout) and mypy; `make fmt` fixes what ruff can.
lint: sync
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy shared/src ops/src services/*/src

typecheck: sync
	$(UV) run mypy shared/src ops/src services/*/src

# The live path replayed over the bundled lines' month of regular season, with every earlier
# season loaded first (9 minutes on 2 cores, measured 2026-12-07), scored into docs/LIVE_REPLAY.md.
replay: sync
	$(UV) run statmuse replay --from 2024-03-16 --to 2024-04-14 --history 2017-18 --write docs/LIVE_REPLAY.md

# Every benchmark (15-25 minutes), then docs/BENCHMARKS.md rewritten from its template.
# BENCH_ARGS: e.g. --skip train,gateway --out /tmp/BENCHMARKS.md (see bench/run_all.py).
bench: sync
	$(UV) run python bench/run_all.py --command "make bench$(if $(BENCH_ARGS), BENCH_ARGS='$(BENCH_ARGS)')" $(BENCH_ARGS)

# The AsyncAPI document of every topic, regenerated from the services' own subscribers and
# publishers (a test fails while the committed one is stale).
asyncapi: sync
	$(UV) run python -m statmuse_shared.contract.asyncapi

# deploy/k8s/kafka-acls.sh: every service's Kafka ACLs, from its subscribers and publishers (a test
# fails while it is stale).
kafka-acls: sync
	$(UV) run python -m statmuse_shared.contract.acls

# docs/FEATURES.md, regenerated from the feature catalogue (a test fails while it is stale).
features-doc: sync
	$(UV) run python -m statmuse_shared.features.catalogue

fmt: sync
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
