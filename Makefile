# Two commands do everything on a fresh machine:  `make run`  and  `make test`.
# Every Python package comes from the lock files in requirements/ (exact versions and sha256 hashes, for
# CPython 3.11 on Linux x86_64; regenerate with requirements/compile.sh). `make run` installs what running
# needs; `make test` adds the test tools and Chromium.
PY      ?= $(shell command -v python3.11 || command -v python3)
VENV    := .venv
BIN     := $(VENV)/bin
MANIFEST ?= ../shared/corpus/dev/manifest.csv
DATA    ?= data
ARGS    ?=
# CI sets this: pytest's exit 5 (no test collected) then passes, with a line saying so.
ALLOW_NO_TESTS ?=
# --no-deps: the locks are complete, so nothing outside them is installed; --no-build-isolation: the sdists
# (dlib, face_recognition_models) build with the locked build tools of build.txt, not with fresh unpinned
# ones. The locked cmake is found first on PATH.
PIP_LOCKED := PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pip install -q --require-hashes --no-deps \
              --no-build-isolation
# The project itself (editable; pip cannot hash a source folder, and it brings no dependency of its own).
PIP_PROJECT := $(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
LOCKS   := requirements/build.txt requirements/run.txt requirements/face.txt

.PHONY: setup setup-dev system-deps system-deps-dev protos run test lint bench clean

setup: $(VENV)/.done
setup-dev: $(VENV)/.dev.done

system-deps:
	@PY="$(PY)" bash deploy/system-deps.sh

system-deps-dev:
	@PY="$(PY)" bash deploy/system-deps.sh --dev

$(VENV)/bin/python:
	$(PY) -m venv $(VENV)

# What running needs. dlib builds from source once (~15 min, AVX + OpenBLAS); pip caches the wheel.
$(VENV)/.done: $(LOCKS) pyproject.toml deploy/system-deps.sh $(wildcard protos/influencers/v1/*.proto)
	@$(MAKE) --no-print-directory system-deps
	@$(MAKE) --no-print-directory $(BIN)/python
	$(PIP_LOCKED) -r requirements/build.txt
	$(PIP_LOCKED) -r requirements/run.txt
	$(PIP_LOCKED) -r requirements/face.txt
	$(PIP_PROJECT)
	@$(MAKE) --no-print-directory protos
	$(BIN)/python -m pip check
	@touch $@

# Tests: dev.txt holds every package of the other locks at the same versions, plus the test tools.
$(VENV)/.dev.done: $(VENV)/.done requirements/dev.txt
	@$(MAKE) --no-print-directory system-deps-dev
	$(PIP_LOCKED) -r requirements/dev.txt
	$(BIN)/python -m pip check
	@touch $@

# The gRPC stubs, generated with the locked grpcio-tools (a build tool: build.txt).
protos:
	$(BIN)/python -m grpc_tools.protoc -Iprotos --python_out=. --grpc_python_out=. --pyi_out=. \
		protos/influencers/v1/*.proto

run: setup
	$(BIN)/influencers run $(MANIFEST) --data-dir $(DATA) $(ARGS)

test: setup-dev
	$(BIN)/ruff check .
	@rc=0; $(BIN)/python -m pytest -q $(ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ] && [ -n "$(ALLOW_NO_TESTS)" ]; then echo "pytest collected no test (exit 5)"; rc=0; fi; \
	exit $$rc

lint: setup-dev
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python bench/throughput.py $(ARGS)

clean:
	rm -rf $(VENV) $(DATA) .pytest_cache
