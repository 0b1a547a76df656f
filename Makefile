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

# Throughput against dpkt, NFStream and tshark on a >= 1 M-packet capture (built once under
# .cache/bench from ../shared/pcaps), then the memory of 1 M concurrent flows. Takes minutes.
# BENCH_ARGS passes options to bench/run.py, e.g. make bench BENCH_ARGS="--repeat 3 --cpu 1".
BENCH := .cache/bench
bench: $(INSTALLED)
	command -v tshark >/dev/null || bash tools/install-test-tools.sh
	$(BIN)/python -c 'import nfstream' 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.make_capture --out $(BENCH)/bench.pcap
	$(BIN)/python -m bench.flows_memory --json $(BENCH)/flows_memory.json
	$(BIN)/python -m bench.run $(BENCH)/bench.pcap --memory-json $(BENCH)/flows_memory.json $(BENCH_ARGS)
	$(BIN)/python -m bench.detection

# What the tests drive for real: tshark, Chromium, tcpreplay, an Elasticsearch node.
test-tools:
	@bash tools/install-test-tools.sh

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
