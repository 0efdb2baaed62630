# Two commands matter: `make demo` and `make test`. Both set everything up on a fresh machine.
# `make demo` needs nothing but Python; `make test` also installs the system tools the suite uses.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
RUN    := $(VENV)/.installed-run
TEST   := $(VENV)/.installed-test
INTEROP := tests/interop

.PHONY: demo test bench lint serve sysdeps nodedeps clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "ampshare needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) --version 2>&1)." >&2; exit 1; }
	@$(PYTHON) -m venv $(VENV) >/dev/null 2>&1 || \
		{ rm -rf $(VENV) && PYTHON=$(PYTHON) bash scripts/sysdeps.sh venv && $(PYTHON) -m venv $(VENV); }

# The manager alone, for `make demo` and `make serve`.
$(RUN): pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	@touch $@

# The manager plus the test tools, for `make test`, `make bench` and `make lint`.
$(TEST): pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@ $(RUN)

# Debian packages the tests need, each installed only when it is missing (see the script).
sysdeps:
	@bash scripts/sysdeps.sh

$(INTEROP)/node_modules/.installed: $(INTEROP)/package.json $(INTEROP)/package-lock.json
	cd $(INTEROP) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

nodedeps: sysdeps $(INTEROP)/node_modules/.installed

demo: $(RUN)
	$(VENV)/bin/ampshare demo

serve: $(RUN)
	$(VENV)/bin/ampshare serve

lint: $(TEST)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: $(TEST) nodedeps
	$(PY) -m ruff check .
	$(PY) -m pytest -q

bench: $(TEST) nodedeps
	@for f in tests/bench/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) $(INTEROP)/node_modules .pytest_cache .hypothesis
