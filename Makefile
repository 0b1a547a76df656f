# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# `rules hunt` converts rules with pySigma's Elasticsearch backend. Its metadata still pins
# pySigma < 2, which works with it (tests/pipelines/store/test_hunt.py), so it is installed
# apart, without its pins; pyproject.toml cannot list it without making the install unsolvable.
SIGMA_ES_BACKEND := pysigma-backend-elasticsearch==2.1.1

.PHONY: run test lint bench eval test-tools kernels clean

run: $(INSTALLED) kernels
	$(BIN)/liaowang up

# Two workers, a test file each at a time (module fixtures are built once); they share one
# Elasticsearch node that the controlling process starts (tests/conftest.py).
test: $(INSTALLED) test-tools kernels
	$(BIN)/ruff check .
	$(BIN)/pytest -n 2 --dist loadfile

lint: $(INSTALLED)
	$(BIN)/ruff check .

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet --no-deps '$(SIGMA_ES_BACKEND)'
	rm -f $(VENV)/.installed-*
	touch $@

# Throughput against dpkt, NFStream and tshark on a >= 1 M-packet capture (built once under
# .cache/bench from ../shared/pcaps), live capture of it at 100 and 200 kpps over a veth pair,
# then the memory of 1 M concurrent flows, the detection
# throughput, the console's API latency over 1 M stored events, and the stores' write rates
# (Elasticsearch through the pipeline against a plain bulk, SQLite). Takes minutes.
# BENCH_ARGS passes options to bench/run.py, e.g. make bench BENCH_ARGS="--repeat 3 --cpu 1".
# The project's modules are byte-compiled first, as pip does for an installed package (the
# editable install leaves it to the first import, which writes nothing when
# PYTHONDONTWRITEBYTECODE is set): otherwise every timed start compiles them again.
BENCH := .cache/bench
bench: $(INSTALLED) kernels
	command -v tshark >/dev/null || bash tools/install-test-tools.sh
	$(BIN)/python -c 'import nfstream' 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.make_capture --out $(BENCH)/bench.pcap
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m compileall -q liaowang sensor detection pipelines console signatures
	$(BIN)/python -m bench.flows_memory --json $(BENCH)/flows_memory.json
	$(BIN)/python -m bench.run $(BENCH)/bench.pcap --memory-json $(BENCH)/flows_memory.json $(BENCH_ARGS)
	$(BIN)/python -m bench.live $(BENCH)/bench.pcap
	$(BIN)/python -m bench.detection
	$(BIN)/python -m bench.console_latency
	$(BIN)/python -m bench.store

# Anomaly detection on the labelled Modbus dataset in ../shared/pcaps: each attack capture held
# out in turn, the model trained on the benign frames of the others. About a minute.
# EVAL_ARGS passes options to bench/eval.py, e.g. make eval EVAL_ARGS="--seeds 0 --gap 5".
eval: $(INSTALLED)
	$(BIN)/python -m bench.eval $(EVAL_ARGS)

# The sensor's compiled loops, built ahead of time (sensor/kernels.py); quick when they are
# already built for the current sources.
kernels: $(INSTALLED)
	$(BIN)/python -m sensor.kernels build

# What the tests drive for real: tshark, Chromium, tcpreplay, an Elasticsearch node.
test-tools:
	@bash tools/install-test-tools.sh

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
