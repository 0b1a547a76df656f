# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint bench test-tools clean

run: $(INSTALLED)
	$(BIN)/liaowang up

test: $(INSTALLED) test-tools
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

# System tools the tests drive for real: tshark (reference decoder), Chromium (UI tests).
test-tools:
	@bash tools/install-test-tools.sh

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
