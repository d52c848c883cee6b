# The two README commands are `make demo` and `make test`; both start with `make install`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS ?= llm,s3

.PHONY: install install-test demo test test-fast test-airflow bench bench-full clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Re-installs only when the project's metadata changed.
$(VENV)/.installed-$(EXTRAS): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[$(EXTRAS)]"
	touch $@

install: $(VENV)/.installed-$(EXTRAS)

install-test:
	$(MAKE) install EXTRAS=llm,s3,test

demo: install
	$(BIN)/provenant demo

test: install-test
	$(BIN)/python -m pytest tests
	$(MAKE) test-airflow

test-fast: install-test
	$(BIN)/python -m pytest tests -m "not browser and not slow"

test-airflow:
	@echo "Airflow tests: see issue #7 (not wired yet)"

bench: install-test
	$(BIN)/python -m benchmarks --quick

bench-full: install-test
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .venv-airflow .provenant build src/*.egg-info
