# latentspace — run `make help` for the targets.
PYTHON ?= python3.11
VENV   ?= .venv
FAISS  ?= cpu
# FAISS=gpu installs faiss-gpu-cu12 instead of faiss-cpu (never both: they are one module).
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(FAISS)
CORPUS ?= $(firstword $(wildcard ../shared/data/imagenet-samples) demo/corpus)

.DEFAULT_GOAL := help
.PHONY: help install test test-fast demo web bench proto clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[$(FAISS),ray,web,dev]"
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP) ## create .venv and install latentspace with its dependencies (FAISS=cpu|gpu)

test: $(STAMP) ## run the whole test suite
	$(PY) -m pytest -q

test-fast: $(STAMP) ## the tests without the slow ones (kill loops, soaks)
	$(PY) -m pytest -q -m "not slow"

demo: $(STAMP) ## index the built-in demo corpus, serve it, query it, draw out/demo-sheet.png and out/demo-walk.png
	$(PY) -m latentspace.cli.demo

WEB_PORT ?= 8080
web: $(STAMP) ## serve the demo index (make demo builds it) with its web page on 127.0.0.1:WEB_PORT (8080) until Ctrl-C
	@test -d demo-index || { echo "no demo-index yet: run make demo first" >&2; exit 2; }
	$(PY) -m latentspace.cli.main serve demo-index --port 0 --web-port $(WEB_PORT)

bench: $(STAMP) ## benchmarks on CORPUS (default: ../shared/data/imagenet-samples if present, else the demo corpus)
	$(PY) bench/index_throughput.py $(CORPUS)

proto: $(STAMP) ## regenerate the gRPC stubs from proto/v1/*.proto
	$(PY) -m latentspace.proto.generate

clean: ## remove the virtual environment and demo output
	rm -rf $(VENV) demo-index out
