# cxml — run `make help` for the list of targets.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo
DEMO_CUSTOMERS ?= 20000
export PYTHONHASHSEED := 0

.DEFAULT_GOAL := help
.PHONY: help install demo test bench bench-service bench-spark real-bench survival-bench clv-bench oracle-gap policy-check value-rule loop compiled-trees lint clean serve

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11 not found: install it, or run make PYTHON=/path/to/python3.11"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || { echo "cxml needs Python 3.11; $(PYTHON) is not. Run make PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --only-binary :all: --no-binary pyspark -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install cxml with its pinned dependencies (idempotent)

demo: $(STAMP) ## Run the main job end to end on simulated data (DEMO_CUSTOMERS=20000)
	$(VENV)/bin/cxml simulate --out $(DEMO_DIR)/data --customers $(DEMO_CUSTOMERS) --seed 7
	$(VENV)/bin/cxml validate $(DEMO_DIR)/data
	$(VENV)/bin/cxml train --config pipelines/demo.yaml --data $(DEMO_DIR)/data --metrics-out $(DEMO_DIR)/metrics.json
	$(VENV)/bin/cxml score --config pipelines/demo.yaml --data $(DEMO_DIR)/data --cutoff 2025-06-30 --model-ref challenger --out $(DEMO_DIR)/scored --to-db sqlite:///$(DEMO_DIR)/cxml.db
	$(VENV)/bin/cxml monitor --config pipelines/demo.yaml --data $(DEMO_DIR)/data --cutoff 2025-06-30 --model-ref challenger --out $(DEMO_DIR)/monitor || [ $$? -eq 3 ]
	$(VENV)/bin/cxml export --config pipelines/demo.yaml --model-ref challenger --out models
	@echo
	@echo "demo data dir:   $(DEMO_DIR)/data (metrics: $(DEMO_DIR)/metrics.json)"
	@echo "scored list:     $(DEMO_DIR)/scored/scored.csv (and scored.parquet)"
	@echo "report:          $(DEMO_DIR)/scored/report.html"
	@echo "database:        $(DEMO_DIR)/cxml.db (SQLite: tables cxml_runs, cxml_scores, cxml_decisions; docs/database.md)"
	@echo "monitoring:      $(DEMO_DIR)/monitor/monitor.html (exit 3 = a threshold crossed; docs/monitoring.md)"
	@echo "exported model:  models/cxml-demo/ (self-contained MLflow model and its README.md model card)"
	@echo "MLflow store:    mlflow.db (browse: $(VENV)/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db)"

test: $(STAMP) ## Run the test suite, but the tests marked slow (make test-slow; CI runs both)
	$(PY) -m pytest -q -m "not slow"

test-slow: $(STAMP) ## The slowest tests: whole notebooks, larger simulations, full trainings
	$(PY) -m pytest -q -m slow

serve: $(STAMP) ## Serve the champion over HTTP on 127.0.0.1:3000 (set CXML_API_KEY to require a key)
	$(VENV)/bin/cxml serve --config pipelines/demo.yaml --model-ref champion --host 127.0.0.1 --port 3000

bench: $(STAMP) ## Benchmarks against same-process baselines; rewrites docs/performance.md (CXML_BENCH_DOC=0: not)
	$(PY) -m benchmarks

real-bench: $(STAMP) ## cxml beside simple baselines on real churn data, with intervals; rewrites its section of docs/performance.md
	$(PY) -m benchmarks.real_bench

survival-bench: $(STAMP) ## Time to churn out of time: cxml's hazard model beside Kaplan-Meier and Cox, with intervals
	$(PY) -m benchmarks.survival_bench

clv-bench: $(STAMP) ## Future spend out of time on Online Retail: cxml beside last period's spend and BG/NBD + Gamma-Gamma
	$(PY) -m benchmarks.clv_bench

oracle-gap: $(STAMP) ## After make demo: the churn AUC and NBA share when also told the simulator's hidden traits
	$(PY) -m benchmarks.oracle_gap $(DEMO_DIR)/data

policy-check: $(STAMP) ## The policy a run uses against simple policies and its promise, on simulated bases (CUSTOMERS, SEEDS)
	$(PY) -m benchmarks.policy_check

value-rule: $(STAMP) ## Fixed customer value or lifetime value: the true value of the policy each picks, on simulated bases (CUSTOMERS, SEEDS)
	$(PY) -m benchmarks.value_rule

loop: $(STAMP) ## The loop closed on the simulator: train, score, act, observe, 3 rounds (CUSTOMERS, SEEDS, ROUNDS)
	$(PY) -m benchmarks.loop

compiled-trees: $(STAMP) ## Compiled tree predictors (cxml's walk; lleaves, treelite, tl2cgen installed aside) beside LightGBM; rewrites their section of docs/performance.md
	rm -rf $(VENV)/compiled-trees
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --target $(VENV)/compiled-trees lleaves==1.3.0 treelite==4.1.2 tl2cgen==1.0.0
	PYTHONPATH=$(VENV)/compiled-trees $(PY) -m benchmarks.compiled_trees

bench-service: $(STAMP) ## The HTTP service under load beside a bare model server; rewrites its section of docs/performance.md
	$(PY) -m benchmarks.bench_service

bench-spark: $(STAMP) ## Features and scoring at 10k/100k/1M customers: local vs Spark local[2]; rewrites its section of docs/performance.md
	$(PY) -m benchmarks.bench_spark

lint: $(STAMP) ## ruff and mypy on src/
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

clean: ## Remove the venv and generated outputs
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
