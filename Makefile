# Every target sets itself up: it creates .venv and installs into it when
# pyproject.toml is newer than the last install, then does its job.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
SGD    := $(VENV)/bin/sgdcli
DEMO   := build/demo

.PHONY: demo test soak bench docs install clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# One stamp per extra: the install is skipped while pyproject.toml is unchanged.
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

demo: $(VENV)/.installed
	@mkdir -p $(DEMO)
	@echo "== logistic regression on sample_data/binary.h5 (20% held out for validation)"
	$(SGD) train sample_data/binary.h5 -o $(DEMO)/binary-model.h5 --model logistic \
		--batch-size 64 --epochs 5 --val-fraction 0.2 --progress plain
	$(SGD) evaluate $(DEMO)/binary-model.h5 sample_data/binary.h5
	@echo "== linear regression on sample_data/regression.h5"
	$(SGD) train sample_data/regression.h5 -o $(DEMO)/regression-model.h5 --model linear \
		--batch-size 32 --epochs 5 --progress plain
	$(SGD) evaluate $(DEMO)/regression-model.h5 sample_data/regression.h5
	@echo "== softmax on sample_data/multiclass.h5 (gzip-compressed chunks), with Adam"
	$(SGD) train sample_data/multiclass.h5 -o $(DEMO)/multiclass-model.h5 --model softmax \
		--optimizer adam --batch-size 128 --epochs 5 --progress plain
	$(SGD) evaluate $(DEMO)/multiclass-model.h5 sample_data/multiclass.h5

# The tests are independent of each other: they run on every core, up to four processes.
test: $(VENV)/.installed-test
	$(PY) -m pytest -q -n auto --maxprocesses 4

# 25 random SIGKILL/SIGTERM + resume cycles, and kill-and-resume with four more optimizers; kept out of `make test` for their length.
soak: $(VENV)/.installed-test
	$(PY) -m pytest -q -m slow tests/test_resume.py

# Measures sgdcli against the read limit and its peers (bench/run.py; BENCH_ARGS=--quick for 10x less data),
# the page shuffle on a file sorted by label (bench/shuffle.py),
# then training on Dask with 1 and 2 workers (bench/scaling.py; SCALING_ARGS, and --quick from BENCH_ARGS),
# then the defaults against the optimum on small real datasets and on the bench data (bench/defaults.py),
# then --lr auto of the adaptive optimizers against 1/9 to 9 times its rate (bench/adaptive.py),
# then the layouts other tools write against a plain matrix (bench/layouts.py) and their reads through HDF5
# (bench/hdf5_reads.py),
# then the sparse kernel alone (bench/sparse_kernel.py), sgd against nesterov on sparse rows, the choice
# --optimizer auto makes there (bench/sparse_optimizer.py), centred CSR rows through the dense kernels
# (bench/densified.py), features whose spread sits in a few rows divided by more (bench/heavy_features.py),
# where a dense epoch's time goes (bench/epoch_parts.py),
# and a CSR file 8x the budget (bench/sparse.py),
# then converting CSV text: each reader in MB/s against wc -l and pandas (bench/csvread.py).
# PyTorch is pinned to 2.13.0, the CPU build this environment provides: an unpinned
# torch pulls a CUDA build of several GB. Without it the benchmark says so and goes on.
$(VENV)/.installed-bench: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) -m pip install -q torch==2.13.0 || echo "PyTorch 2.13.0 (CPU) does not install here; benchmarking without it"
	touch $@ $(VENV)/.installed

bench: $(VENV)/.installed-bench
	$(PY) bench/run.py $(BENCH_ARGS)
	$(PY) bench/shuffle.py $(filter --quick,$(BENCH_ARGS))
	$(PY) bench/scaling.py $(filter --quick,$(BENCH_ARGS)) $(SCALING_ARGS)
	$(PY) bench/defaults.py $(filter --quick,$(BENCH_ARGS))
	$(PY) bench/adaptive.py $(filter --quick,$(BENCH_ARGS))
	$(PY) bench/layouts.py $(filter --quick,$(BENCH_ARGS))
	$(PY) bench/hdf5_reads.py
	$(PY) bench/sparse_kernel.py
	$(PY) bench/sparse_optimizer.py $(filter --quick,$(BENCH_ARGS))
	$(PY) bench/densified.py $(filter --quick,$(BENCH_ARGS))
	$(PY) bench/heavy_features.py $(filter --quick,$(BENCH_ARGS))
	$(PY) bench/epoch_parts.py $(filter --quick,$(BENCH_ARGS))
	$(PY) bench/sparse.py $(filter --quick,$(BENCH_ARGS))
	$(PY) bench/csvread.py $(filter --quick,$(BENCH_ARGS))

# Regenerates docs/cli.md, the command reference, from --help (a test fails when it is stale).
docs: $(VENV)/.installed
	$(PY) -m sgdcli.cli.gendocs docs/cli.md

clean:
	rm -rf $(VENV) build
