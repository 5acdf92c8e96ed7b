# Ion: `make demo` runs the example pipeline; `make test` installs and starts what the tests need and runs them.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
TOOLS := $(CURDIR)/.tools
export PATH := $(TOOLS)/bin:$(TOOLS)/node_modules/.bin:$(PATH)
export ION_TOOLS := $(TOOLS)

.PHONY: demo test install lint unit tools bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/ion demo

tools: install
	bash scripts/install-tools.sh

lint: install
	$(VENV)/bin/ruff check shared sidecar dispatcher_functions tests function_app.py
	$(VENV)/bin/mypy shared sidecar dispatcher_functions function_app.py
	cd sdk/python && ../../$(VENV)/bin/mypy

test: tools lint
	$(PY) -m pytest -q -p no:cacheprovider
	bash scripts/test-sdks.sh

bench: tools
	$(PY) -m benchmarks

clean:
	rm -rf .ion $(VENV) $(TOOLS)
