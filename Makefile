# qa-bot: `make run` sets everything up and answers a question; `make test` runs every check.
VENV ?= .venv
PYTHON ?= python3
TORCH ?= torch==2.13.0
# torch's CPU build comes from here when it answers within 5 s (TORCH_INDEX= skips it)
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
Q ?= When did the war start?
# test workers (pytest-xdist): one per core; TEST_JOBS=0 runs the suite in one process
TEST_JOBS ?= auto
BIN := $(VENV)/bin

.PHONY: run setup test lint types unit chat serve bench clean

run: setup
	$(BIN)/qa ask "$(Q)"

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, its CPU build: PyPI's torch for Linux is the CUDA build (several GB)
	scripts/install-torch $(BIN)/python "$(TORCH)" "$(TORCH_INDEX)"
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

test: setup lint types unit

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: setup
	$(BIN)/mypy

unit: setup
	scripts/ensure-chromium
	HF_HUB_OFFLINE=1 $(BIN)/pytest -n $(TEST_JOBS) --dist loadgroup $(PYTEST_ARGS)

chat: setup
	$(BIN)/qa chat

serve: setup
	$(BIN)/qa serve

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
