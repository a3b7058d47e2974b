# leadscore_fast — `make help` lists the targets.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

.PHONY: install
install: ## Build the Rust extension (maturin) and install the package with test extras, editable
	$(PIP) install --quiet --upgrade pip maturin
	$(PIP) install --quiet -e ".[test]"

.PHONY: demo
demo: install ## Set up and score 1,000,000 synthetic leads, printing the summary
	$(PYTHON) -m leadscore_fast.demo

.PHONY: test
test: install ## Set up and run the whole test suite (cargo + pytest, benchmarks as plain tests)
	cargo test --manifest-path engine/Cargo.toml --quiet
	cargo test --release -p leadscore-bulk --quiet
	$(PYTHON) -m pytest

.PHONY: opcodes
opcodes: ## Regenerate python/leadscore_fast/vm/opcodes.py from the Rust opcode table
	$(PYTHON) -m leadscore_fast.vm.gen_opcodes
	touch python/leadscore_fast/vm/kernel.py  # numba's cache only notices edits to the kernel's own file

.PHONY: stubs
stubs: ## Regenerate python/leadscore_fast/_engine.pyi (the extension's type stub) from the built extension
	$(PYTHON) -m leadscore_fast.gen_stubs

.PHONY: warmup
warmup: ## Fill the numba cache once so later processes start warm
	$(PYTHON) -m leadscore_fast.warmup

.PHONY: bench
bench: install ## Run the benchmark comparison on 10M leads (writes benchmarks/results/)
	$(PIP) install --quiet -e ".[bench]"
	$(PYTHON) benchmarks/report.py

.PHONY: bench-e2e
bench-e2e: install ## End-to-end rescoring, whole processes: 10M leads Parquet → Parquet vs Polars/DuckDB/pyarrow, 1M-30M scaling (writes benchmarks/results/e2e.*)
	$(PIP) install --quiet -e ".[bench]"
	$(PYTHON) benchmarks/e2e.py --rows 10000000 --repeat 3 --scaling 1e6,1e7,3e7

.PHONY: bench-e2e-full
bench-e2e-full: install ## bench-e2e plus 100M rows, the PostgreSQL rescore and a py-spy profile
	$(PIP) install --quiet -e ".[bench]"
	$(PYTHON) benchmarks/e2e.py --rows 10000000 --repeat 3 --scaling 1e6,1e7,3e7 --huge --postgres --profile
