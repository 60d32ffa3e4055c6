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
LOCKS   := requirements/build.txt requirements/run.txt requirements/face.txt requirements/models.txt

.PHONY: setup setup-dev system-deps system-deps-dev protos buf promtool run check-manifest test lint bench clean

setup: $(VENV)/.done
setup-dev: $(VENV)/.dev.done

system-deps:
	@PY="$(PY)" bash deploy/system-deps.sh

system-deps-dev:
	@PY="$(PY)" bash deploy/system-deps.sh --dev

$(VENV)/bin/python:
	$(PY) -m venv $(VENV)

# What running needs. dlib builds from source once (~15 min, OpenBLAS, and AVX2 + FMA where the CPU has them:
# deploy/dlib.sh keeps the wheel in ~/.cache/influencers/ by its flags).
$(VENV)/.done: $(LOCKS) pyproject.toml deploy/system-deps.sh deploy/dlib.sh deploy/dlib-flags.sh \
               $(wildcard protos/influencers/v1/*.proto)
	@$(MAKE) --no-print-directory system-deps
	@$(MAKE) --no-print-directory $(BIN)/python
	$(PIP_LOCKED) -r requirements/build.txt
	$(PIP_LOCKED) -r requirements/run.txt
	PATH="$(abspath $(BIN)):$$PATH" bash deploy/dlib.sh $(BIN)/python requirements/face.txt
	$(PIP_LOCKED) -r requirements/face.txt
	$(PIP_PROJECT)
	bash deploy/models.sh $(BIN)/python
	@$(MAKE) --no-print-directory protos
	$(BIN)/python -m pip check
	@touch $@

# Tests: dev.txt holds every package of the other locks at the same versions, plus the test tools.
$(VENV)/.dev.done: $(VENV)/.done requirements/dev.txt
	@$(MAKE) --no-print-directory system-deps-dev
	$(PIP_LOCKED) -r requirements/dev.txt
	$(BIN)/python -m pip check
	@touch $@

# buf checks the contract (buf.yaml: lint STANDARD, breaking FILE). It comes from the npm registry at the
# version and integrity hashes of tools/buf/package-lock.json (npm ci), into tools/buf/node_modules.
BUF := tools/buf/node_modules/.bin/buf
$(BUF): tools/buf/package.json tools/buf/package-lock.json
	@command -v npm >/dev/null || { echo "buf: npm is missing (make system-deps-dev installs it)" >&2; exit 1; }
	npm ci --prefix tools/buf --no-audit --no-fund --loglevel=error
	@touch $@

# Lint, then breaking changes against the previous commit: the commit that breaks the contract on purpose
# fails here, and the next one passes (no commit touching protos/ may follow another). The previous
# commit's tree is read with this buf.yaml (--against-config), so that both sides are one module layout.
# A first commit, or a shallow clone without HEAD~1, skips the comparison and says so.
buf: $(BUF)
	$(BUF) lint
	@if git rev-parse -q --verify 'HEAD~1^{commit}' >/dev/null 2>&1; then \
		echo "$(BUF) breaking --against '.git#ref=HEAD~1' --against-config buf.yaml"; \
		$(BUF) breaking --against '.git#ref=HEAD~1' --against-config buf.yaml; \
	else \
		echo "buf breaking: skipped, no previous commit here (a first commit or a shallow clone)"; \
	fi

# The Prometheus configurations and alert rules of deploy/prometheus (promtool: Debian's `prometheus` package,
# which make system-deps-dev installs).
PROMTOOL ?= promtool
promtool:
	@command -v $(PROMTOOL) >/dev/null || { echo "promtool is missing (make system-deps-dev installs it)" >&2; exit 1; }
	$(PROMTOOL) check config deploy/prometheus/prometheus.yml deploy/prometheus/compose.yml
	$(PROMTOOL) check rules deploy/prometheus/alerts.yml
	$(PROMTOOL) test rules deploy/prometheus/alerts_test.yml

# The gRPC stubs, generated with the locked grpcio-tools (a build tool: build.txt).
protos:
	$(BIN)/python -m grpc_tools.protoc -Iprotos --python_out=. --grpc_python_out=. --pyi_out=. \
		protos/influencers/v1/*.proto

# The manifest is looked for before the set-up's minutes: the default is the dev corpus of ../shared.
run: check-manifest setup
	$(BIN)/influencers run $(MANIFEST) --data-dir $(DATA) $(ARGS)

check-manifest:
	@test -f "$(MANIFEST)" || { echo "make run: no manifest at $(MANIFEST) (the default is the dev corpus, which \
	sits in ../shared beside this folder). Give yours: make run MANIFEST=path/to/export.csv" >&2; exit 2; }

test: setup-dev
	$(BIN)/ruff check .
	@$(MAKE) --no-print-directory buf
	@$(MAKE) --no-print-directory promtool
	@rc=0; $(BIN)/python -m pytest -q --durations=15 $(ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ] && [ -n "$(ALLOW_NO_TESTS)" ]; then echo "pytest collected no test (exit 5)"; rc=0; fi; \
	exit $$rc

lint: setup-dev
	$(BIN)/ruff check .
	@$(MAKE) --no-print-directory buf
	@$(MAKE) --no-print-directory promtool

bench: setup
	$(BIN)/python bench/throughput.py $(ARGS)

clean:
	rm -rf $(VENV) $(DATA) .pytest_cache tools/buf/node_modules
