# Two entry points (see README): `make audit` and `make test`. Only Python 3.11+ and make are needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_DATE ?= $(shell date +%F)

.PHONY: audit test setup bench clean

$(BIN)/claims-audit: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,postgres,spark]'
	touch $@

setup: $(BIN)/claims-audit

# Audit the sample extracts. Exit code 1 only means some sample rows were rejected (they contain
# deliberately bad rows); anything else is a failure.
audit: setup
	$(BIN)/claims-audit run sample_claims/ --out reports/ --run-date $(RUN_DATE); \
	  rc=$$?; if [ $$rc -gt 1 ]; then exit $$rc; fi

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python bench/bench.py --rounds 5 --stages

clean:
	rm -rf $(VENV) reports/*.xlsx reports/*.json reports/*.sqlite .pytest_cache
