# Every target bootstraps what it needs from nothing and is fast when already set up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench postgres clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## postgres: install Debian's PostgreSQL server when it is missing (tests start a throwaway one)
postgres:
	@bash scripts/ensure-postgres.sh

demo: $(STAMP)
	$(BIN)/python -m prodline.demo

test: $(STAMP) postgres
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check prodline tests bench

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .prodline .pytest_cache
