# Two entry points for a fresh clone: `make train` and `make test`. Each sets up .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch sits on local disk here; pass TORCH_SPEC= (empty) to keep your own torch.
TORCH_SPEC ?= torch==2.13.0
# The suite in pytest-xdist workers, one per core of the CI machine; PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= 2

.PHONY: install train test

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || [ -z "$(TORCH_SPEC)" ] || $(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# ARC_CONSOLE_LAUNCHER tells the CLI it was started by make, so the commands it prints (resume with: ...)
# are `make train ARGS=...`, which work here without .venv/bin on PATH.
train: install
	ARC_CONSOLE_LAUNCHER=make $(VENV)/bin/arc-console train $(ARGS)

# The layering contracts first (pyproject's [tool.importlinter], about a second), then the suite.
test: install
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=25 $(PYTEST_ARGS)
