# The README's two commands are `make run` and `make test`; both build .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Re-install when the dependency pins change; the stamp lives inside .venv.
STAMP  := $(VENV)/.installed
# The validator's chute template: the kit downloads it from upstream (pinned commit) when online.
# Offline, a turbovision checkout beside the clone stands in (here: ../shared/reference).
export TVKIT_CHUTE_TEMPLATE ?= $(wildcard $(CURDIR)/../shared/reference/validator-ea7412f/turbovision_chute.py.j2)

.PHONY: setup run test test-fast test-notebooks bench clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade pip
	$(BIN)/python -m pip install -qq -e '.[test,scale]'
	@touch $(STAMP)

# The main job: the notebook suite on the built-in default, headless.
run: setup
	$(BIN)/tvkit run --profile smoke

# Unit tests, CLI tests and the notebook suite run ONCE through papermill (tests/test_suite_*.py:
# football, and a Detect element), on three workers (a test file stays on one worker, so its module
# fixtures, e.g. a dry run, are shared); the slowest tests listed at the end. Three on two cores:
# many tests wait (the chutes CLI sleeps 5 s after a build upload, servers start, Ray's daemons
# start), and two workers left the cores a quarter idle (measured: 17 min 13 s with two, 15 min 31 s
# with three; four made `ray start` fail under the load). ruff first: a lint finding fails the run
# before the tests start.
test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 3 --dist loadfile --no-loadscope-reorder tests -p no:cacheprovider --durations=15

# Every notebook alone on its own defaults under nbval (lax: fails on errors), as a JupyterLab
# user opens it; `make test` runs them wired together instead.
test-notebooks: setup
	$(BIN)/python -m pytest notebooks --nbval-lax --nbval-current-env -p no:cacheprovider

test-fast: setup
	$(BIN)/python -m pytest tests -m "not slow and not notebook" -p no:cacheprovider

bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean-venv:
	rm -rf $(VENV)
