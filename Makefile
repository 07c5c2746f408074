# Every target bootstraps what it needs from nothing and is fast when already set up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench system-packages clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## system-packages: Debian's postgresql and chromium, which the tests drive for real
system-packages:
	@bash scripts/ensure-debian-packages.sh

demo: $(STAMP)
	$(BIN)/python -m prodline.demo

test: $(STAMP) system-packages
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check prodline tests bench

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .prodline .pytest_cache
