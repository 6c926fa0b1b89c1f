# Local development without Docker; see deploy/stack.py (make up) and deploy/local.py.
PYTHON := .venv/bin/python
RUFF := .venv/bin/ruff
# Touched after each sync: the venv is stale when pyproject.toml or uv.lock is newer.
VENV_STAMP := .venv/.synced

.PHONY: venv up test lint fmt clean

venv: $(VENV_STAMP)

$(VENV_STAMP): pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || pip install uv
	uv sync --frozen
	@touch $@

up: venv
	$(PYTHON) -m deploy.stack

test: venv
	$(RUFF) check .
	$(RUFF) format --check .
	$(PYTHON) -m pytest -q

lint: venv
	$(RUFF) check .
	$(RUFF) format --check .

fmt: venv
	$(RUFF) format .
	$(RUFF) check --fix .

clean:
	rm -rf .stack
