# Every target works on a fresh clone: the virtualenv is created on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= default

.PHONY: install test bench bench-quick lint clean

$(PY):
	python3 -m venv $(VENV)

install: $(PY)
	$(PY) -m pip install -e '.[dev]'

test: install
	$(PY) -m pytest

bench: install
	$(VENV)/bin/bench all --profile $(PROFILE)

bench-quick: install
	$(VENV)/bin/bench all --profile quick

lint: install
	$(VENV)/bin/ruff check harness workloads tests scripts
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) build *.egg-info
