# The two README commands are `make demo` and `make test`; both start with `make install`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS ?= llm,s3

.PHONY: install install-test install-airflow demo test test-service test-fast test-airflow bench bench-full load clean

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

# Two pytest workers (one per core; most tests wait on subprocesses and servers), while
# the Airflow venv installs beside them (mostly downloads), then the Airflow tests.
test: install-test
	$(MAKE) -j2 test-service install-airflow
	$(MAKE) test-airflow

test-service: install-test
	$(BIN)/python -m pytest tests --ignore=tests/airflow -n 2 --durations=15

test-fast: install-test
	$(BIN)/python -m pytest tests -m "not browser and not slow"

# Airflow 3 caps fastapi, so it gets its own venv; the stamp makes a second run skip pip.
AIRFLOW_VENV := .venv-airflow
AIRFLOW_PYTHON ?= $(PYTHON)
# The extra accepts any Airflow 3; the test venv pins the release the tests ran on.
AIRFLOW_VERSION ?= 3.3.2
AIRFLOW_LOG := $(AIRFLOW_VENV)/install.log

$(AIRFLOW_VENV)/bin/python:
	$(AIRFLOW_PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install --quiet --upgrade pip

# The Celery provider 3.26.0 does not import with celery 5.7.0, hence the pin; asyncpg is
# the async driver Airflow 3 needs for a PostgreSQL metadata DB.
AIRFLOW_TEST_PINS := "celery==5.6.3" "asyncpg>=0.29"

# Bytecode is compiled here, so the first Airflow command of a test run does not pay for it.
$(AIRFLOW_VENV)/.installed-$(AIRFLOW_VERSION): pyproject.toml Makefile | $(AIRFLOW_VENV)/bin/python
	@echo "Installing Apache Airflow $(AIRFLOW_VERSION) into $(AIRFLOW_VENV) (a few minutes; log $(AIRFLOW_LOG))"
	@$(AIRFLOW_VENV)/bin/pip install --quiet -e ".[airflow,test]" \
		"apache-airflow[celery,postgres,redis]==$(AIRFLOW_VERSION)" $(AIRFLOW_TEST_PINS) \
		> $(AIRFLOW_LOG) 2>&1 || { tail -40 $(AIRFLOW_LOG); exit 1; }
	@$(AIRFLOW_VENV)/bin/python -m compileall -q -j 0 $(AIRFLOW_VENV)/lib >/dev/null || true
	@touch $@
	@echo "$(AIRFLOW_VENV) is ready"

install-airflow: $(AIRFLOW_VENV)/.installed-$(AIRFLOW_VERSION)

test-airflow: install-airflow
	$(AIRFLOW_VENV)/bin/python -m pytest tests/airflow

bench: install-test
	$(BIN)/python -m benchmarks --quick

bench-full: install-test
	$(BIN)/python -m benchmarks

# 60 s of mixed reads and writes against `provenant serve` + `mlflow server`; fails on any error.
load: install-test
	$(BIN)/python -m benchmarks.load

clean:
	rm -rf $(VENV) .venv-airflow .provenant build src/*.egg-info
