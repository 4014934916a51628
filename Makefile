# Two commands for a newcomer: `make demo` (or `python -m elasticast_lite`) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint clean

setup: $(STAMP)

# Reinstall only when the dependency list or the pins change.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

demo: setup
	$(PY) -m elasticast_lite

lint: setup
	$(PY) -m ruff check .

test: setup lint
	$(PY) -m pytest

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .hypothesis
