# StatMusePicks. `make demo` starts everything on this machine; `make test` runs the tests.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
export UV_PYTHON ?= 3.11

.PHONY: demo up down status test test-unit lint typecheck fmt sync clean

$(UV):
	python3 -m pip install --user --quiet uv || python3 -m pip install --quiet uv

sync: | $(UV)
	$(UV) sync --frozen --all-packages --quiet || $(UV) sync --all-packages --quiet

demo: sync
	$(UV) run statmuse demo

up: sync
	$(UV) run statmuse up

down:
	$(UV) run statmuse down

status:
	$(UV) run statmuse status

test: sync
	$(UV) run pytest

test-unit: sync
	$(UV) run pytest -m "not integration and not e2e"

lint: sync
	$(UV) run ruff check .
	$(UV) run ruff format --check .

typecheck: sync
	$(UV) run mypy shared/src ops/src services/*/src

fmt: sync
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
