# The two commands a new user needs: `make bench` and `make test`. Both set everything up first.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup bench test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

setup: $(BIN)/python
	$(BIN)/python -m pip install -e '.[all,dev]'
	bash tools/install-browser.sh

bench: setup
	$(BIN)/python -m jitpi run

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(BIN)/python
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .asv .pytest_cache
