# Two commands do all set-up on a fresh machine (Python 3.11 and Java 17):
#   make demo   installs, builds the demo workspace on DuckDB, runs the pipeline, writes the report
#   make test   installs and runs the tests (DuckDB and a local Spark session)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

export OMP_WAIT_POLICY := passive
export OPENBLAS_NUM_THREADS := 1

.PHONY: install demo test test-fast bench docs lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel

$(STAMP): $(BIN)/python pyproject.toml
	@# torch's CPU wheel first: the text extra's sentence-transformers needs torch, and an unpinned
	@# torch pulls gigabytes of CUDA
	$(BIN)/python -m pip install --quiet 'torch==2.13.0'
	$(BIN)/python -m pip install --quiet -e '.[spark,test]'
	@# Microsoft Recommenders: only the reference the ranking metrics are tested against; its pins
	@# (an older pandas, numpy < 2...) clash with ours, and its evaluation module needs none of them
	$(BIN)/python -m pip install --quiet --no-deps 'recommenders==1.2.1'
	@# Open Bandit Pipeline: only the reference the off-policy estimators are tested against; it
	@# needs torch (the CPU wheel above), and its own pins are old, so it goes in without them
	$(BIN)/python -m pip install --quiet 'matplotlib>=3.8' 'seaborn>=0.13' 'mypy_extensions>=1.0' 'tqdm>=4.66'
	$(BIN)/python -m pip install --quiet --no-deps 'obp==0.4.1'
	@command -v chromium >/dev/null 2>&1 || { echo "Debian's chromium drives the dashboard's browser tests: installing it"; \
	  (apt-get update -qq && apt-get install -y -qq chromium) || echo "could not install chromium; the browser test will be skipped"; }
	@command -v java >/dev/null 2>&1 || { echo "Java 17 is needed for the Spark tests: installing openjdk-17-jre-headless"; \
	  (apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless) || echo "could not install Java; Spark tests will be skipped"; }
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/mercator demo --workspace demo/mercator-demo.duckdb --report demo/report.html

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not spark and not slow"

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/explore.py
	$(BIN)/python benchmarks/clv.py
	$(BIN)/python benchmarks/target.py
	$(BIN)/python benchmarks/recommend.py
	$(BIN)/python benchmarks/attribution.py
	$(BIN)/python benchmarks/mmm.py
	$(BIN)/python benchmarks/experiment.py
	$(BIN)/python benchmarks/forecast.py
	command -v wrk >/dev/null || (apt-get update -q && apt-get install -y -q wrk) || sudo apt-get install -y -q wrk
	test -f demo/mercator-demo.duckdb || $(MAKE) demo
	$(BIN)/python benchmarks/api.py
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/decide.py
	$(BIN)/python benchmarks/decide_budget.py
	$(BIN)/python benchmarks/monitor.py
	$(BIN)/python benchmarks/dashboard.py
	$(BIN)/python benchmarks/govern.py

docs: $(STAMP)
	$(BIN)/mercator schema docs --output docs/data-model.md

lint: $(STAMP)
	$(BIN)/python -m pip install --quiet ruff && $(BIN)/ruff check src tests benchmarks

clean:
	rm -rf demo mercator-report.html .pytest_cache
