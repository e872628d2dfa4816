# Audio Core — the two commands: `make up` (run the service) and `make test` (run every check).
# Both set everything up on a fresh machine: venv, packages, model store.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help prereqs-up prereqs-test install models up test lint unit integration deploy-check load eval bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24"
	$(BIN)/python -m pip install -q -e ".[serve,dev]"
	touch $@

prereqs-up:
	@scripts/prereqs.sh up

prereqs-test:
	@scripts/prereqs.sh test

install: $(STAMP)  ## create .venv and install the pinned packages

models: $(STAMP)  ## assemble sha256-checked weights and build the TorchServe archives
	$(BIN)/python model-store/build.py

up: prereqs-up models  ## run TorchServe + gateway on 127.0.0.1:8000 (Ctrl-C stops both)
	VENV=$(VENV) scripts/serve.sh

lint: $(STAMP)  ## ruff (lint + format) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: models  ## fast tests: gateway and handlers, no TorchServe
	$(BIN)/python -m pytest -m "not integration"

integration: prereqs-test models  ## tests against a real TorchServe with the real models
	$(BIN)/python -m pytest -m integration

test: prereqs-test models lint  ## everything CI checks
	$(BIN)/python -m pytest

deploy-check: $(STAMP)  ## validate k8s overlays (schemas, strict), docker-compose.yml and the Dockerfiles
	VENV=$(VENV) scripts/check_deploy.sh

USERS ?= 8
DURATION ?= 2m
URL ?= http://127.0.0.1:8000
load: $(STAMP)  ## locust, headless, against `make up`: make load USERS=8 DURATION=2m -> loadtests/results/
	mkdir -p loadtests/results
	$(BIN)/locust -f loadtests/locustfile.py --headless --users $(USERS) --spawn-rate $(USERS) \
	  --run-time $(DURATION) --host $(URL) --csv loadtests/results/run --html loadtests/results/report.html

eval: models  ## quality of the service on shared/data (WER, EER, PESQ/STOI/SI-SDR, hallucination) -> eval/REPORT.md
	$(BIN)/python -m eval.run $(if $(EVAL_URL),--url $(EVAL_URL))

bench: models  ## latency of the service vs faster-whisper in-process -> benchmarks/RESULTS.md
	$(BIN)/python -m benchmarks.run

clean:  ## remove generated archives, logs and the venv
	rm -rf model-store/whisper model-store/weights model-store/.staging var $(VENV)
