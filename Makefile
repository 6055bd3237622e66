# `make demo` and `make test` each bootstrap .venv from a fresh clone, then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo demo-llm test lint format bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/errata run
	$(BIN)/errata export

# The LLM path end to end, offline: sampling, teacher and self-edit against the local test
# double (scripted fixtures, not a model), then stats and an export of the natural mistakes.
demo-llm: $(STAMP)
	$(BIN)/python -m errata.testing.demo_llm

# The run report's browser test opens it in Debian's Chromium, installed here (as root, from
# Debian's packages) when it is missing; never a Playwright browser download.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "the report test needs Chromium at $@ (Debian: apt-get install chromium)"; exit 1; }
	apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }

test: $(STAMP) $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python benchmarks/offline_pipeline.py

clean:
	rm -rf $(VENV) data/shards data/export
