# Two commands matter: `make demo` and `make test`. Both set everything up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
INTEROP := tests/interop

.PHONY: demo test bench lint serve sysdeps nodedeps clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

# Debian packages the tests need: Chromium for the browser tests, Node.js for the OCPP interop client.
sysdeps:
	@if ! command -v chromium >/dev/null || ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium nodejs npm >/dev/null; \
	fi

$(INTEROP)/node_modules/.installed: $(wildcard $(INTEROP)/package.json $(INTEROP)/package-lock.json)
	@if [ -f $(INTEROP)/package.json ]; then cd $(INTEROP) && npm ci --no-audit --no-fund --loglevel=error; fi
	@mkdir -p $(INTEROP)/node_modules && touch $@

nodedeps: sysdeps $(INTEROP)/node_modules/.installed

demo: $(STAMP)
	$(VENV)/bin/ampshare demo

serve: $(STAMP)
	$(VENV)/bin/ampshare serve

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: $(STAMP) nodedeps
	$(PY) -m ruff check .
	$(PY) -m pytest -q

bench: $(STAMP) nodedeps
	@for f in tests/bench/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) $(INTEROP)/node_modules .pytest_cache .hypothesis
