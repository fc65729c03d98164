# Two commands a newcomer needs: `make run` and `make test`. Everything else is for developers.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test test-js lint install install-dev migrate demo scheduler bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

migrate: install
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) demo-data --if-empty

## make run: install, migrate, seed demo data on first run, serve http://127.0.0.1:5000
run: demo
	$(FLASK) run --host $(HOST) --port $(PORT)

## make test: install test tools, lint, run the whole suite (Python, then the JS unit tests)
test: install-dev
	$(BIN)/ruff check .
	$(BIN)/pytest
	$(MAKE) --no-print-directory test-js

## make test-js: the checklist queue logic under Node's built-in test runner (skips without node)
test-js:
	@if command -v node >/dev/null 2>&1; then node --test tests/js/*.test.mjs; \
	else echo "node not found: JS unit tests skipped"; fi

lint: install-dev
	$(BIN)/ruff check .

scheduler: migrate
	$(FLASK) scheduler run

bench: install-dev
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
