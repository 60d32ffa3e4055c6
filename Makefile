# Two commands do everything on a fresh machine:  `make run`  and  `make test`.
PY      ?= $(shell command -v python3.11 || command -v python3)
VENV    := .venv
BIN     := $(VENV)/bin
MANIFEST ?= ../shared/corpus/dev/manifest.csv
DATA    ?= data
ARGS    ?=

.PHONY: setup system-deps protos run test lint bench clean

setup: $(VENV)/.done

system-deps:
	@bash deploy/system-deps.sh

$(VENV)/.done: pyproject.toml deploy/system-deps.sh $(wildcard protos/influencers/v1/*.proto)
	@$(MAKE) --no-print-directory system-deps
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip "setuptools<81" wheel
	# dlib builds from source once (~15 min, AVX + OpenBLAS); pip caches the wheel per machine.
	$(BIN)/pip install -q "dlib>=19.24" face_recognition_models
	$(BIN)/pip install -q --no-deps face_recognition==1.3.0
	$(BIN)/pip install -q -e ".[dev]"
	@$(MAKE) --no-print-directory protos
	@touch $@

protos:
	$(BIN)/python -m grpc_tools.protoc -Iprotos --python_out=. --grpc_python_out=. --pyi_out=. \
		protos/influencers/v1/*.proto

run: setup
	$(BIN)/influencers run $(MANIFEST) --data-dir $(DATA) $(ARGS)

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q $(ARGS)

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python bench/throughput.py $(ARGS)

clean:
	rm -rf $(VENV) $(DATA) .pytest_cache
