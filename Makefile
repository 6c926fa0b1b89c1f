# Local development without Docker; see deploy/stack.py (make up) and deploy/processes.py.
PYTHON := .venv/bin/python
RUFF := .venv/bin/ruff
LINT_IMPORTS := .venv/bin/lint-imports
# Touched after each sync: the venv is stale when pyproject.toml or uv.lock is newer.
VENV_STAMP := .venv/.synced

.PHONY: venv up test test-unit test-alone lint fmt bench clean

venv: $(VENV_STAMP)

$(VENV_STAMP): pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || pip install uv
	uv sync --frozen
	@touch $@

up: venv
	$(PYTHON) -m deploy.stack

# Lint first (ruff and the deploy checks), then every test against a real broker and Redis.
test: lint
	$(PYTHON) -m pytest -q

# The tests that need no broker or Redis (the front end, the view's documents, the layers, and
# the processor's and materializer's decisions: execute's error and cancellation policy, a result
# too large for a record, what the log's records do to the view): under a minute. Tests that use the session's broker are marked "broker" (tests/conftest.py).
test-unit: venv
	$(PYTHON) -m pytest -q -m "not broker" tests/unit

# Every test module on its own, in a pytest process of its own (tests/alone.py): no test leans
# on what another module left behind.
test-alone: venv
	$(PYTHON) -m tests.alone

# ruff, the layers (import-linter, contracts in pyproject.toml), the types (mypy, [tool.mypy]),
# then the offline checks of Dockerfile, docker-compose.yml, deploy/k8s and the alerts (hadolint,
# docker-compose config, kustomize rendering, kubernetes-validate, promtool check and test
# rules): tests/ops/deploy_checks.py
lint: venv
	$(RUFF) check .
	$(RUFF) format --check .
	$(LINT_IMPORTS)
	$(PYTHON) -m mypy
	$(PYTHON) -m tests.ops.deploy_checks

fmt: venv
	$(RUFF) format .
	$(RUFF) check --fix .

# The service against the simulator's own speed, in-process (see tests/perf/bench.py): writes
# tests/perf/out/bench.{json,png,md}. Options through BENCH_ARGS, e.g. BENCH_ARGS="--profile".
bench: venv
	$(PYTHON) -m tests.perf.bench $(BENCH_ARGS)

clean:
	rm -rf .stack
