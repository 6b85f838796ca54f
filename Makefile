# mirbench: `make install table-ismir2020` (install, then reproduce a table); `make test` runs the tests.
VENV      ?= .venv
PY        := $(VENV)/bin/python
MIRBENCH  := $(VENV)/bin/mirbench
# A local wheel folder (e.g. a CPU build of torch) that pip is configured with; uv is given the same.
FIND_LINKS ?= $(PIP_FIND_LINKS)
UV_FLAGS  := --python $(PY) --compile-bytecode $(if $(FIND_LINKS),--find-links $(FIND_LINKS))
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
# Idle OpenMP threads sleep instead of spinning: with 2 threads and another job on the box, spinning made
# an HDPGMM epoch 141 s instead of 19 s (and the ISMIR 2020 triplet step 4 s instead of 1 s).
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: install test test-unit test-smoke test-regression test-kernels bench corpus quickstart clean table-% check-% table-tutorial2020

install:
	@command -v uv >/dev/null 2>&1 || python3 -m pip install -q uv
	uv venv -q --allow-existing $(VENV) --python 3.11
	uv pip install -q $(UV_FLAGS) -r requirements.lock
	uv pip install -q $(UV_FLAGS) --no-deps -r requirements-nodeps.lock
	uv pip install -q $(UV_FLAGS) --no-deps -e .
	@$(MIRBENCH) --version

test:
	$(PY) -m pytest -q -m "not data"

test-unit:
	$(PY) -m pytest -q

test-smoke:
	$(PY) -m pytest -q -m smoke

test-regression:
	$(PY) -m pytest -q -m regression

# The numeric tests (losses, metrics, audio features, HDPGMM math, evaluation) under other BLAS / ATen kernels of
# this box, so a tolerance that holds on one kernel only fails here and not on a user's machine: the native ones,
# OpenBLAS's oldest (Prescott), an AVX2-only CPU (OpenBLAS Haswell, ATen and MKL AVX2), ATen's scalar code.
# About 1 min each on 2 cores; not part of `make test` (its 15-min budget). Each leg prints the kernels that ran.
KERNEL_TESTS ?= tests/losses tests/metrics tests/audio tests/hdpgmm tests/evaluation
KERNEL_ENV := env -u OPENBLAS_CORETYPE -u ATEN_CPU_CAPABILITY -u MKL_ENABLE_INSTRUCTIONS
test-kernels:
	@failed=""; for k in "" "OPENBLAS_CORETYPE=Prescott" \
		"OPENBLAS_CORETYPE=Haswell ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2" "ATEN_CPU_CAPABILITY=default"; do \
		echo "== $${k:-native kernels}: $$($(KERNEL_ENV) $$k $(PY) -c 'from mirbench.bench.machine import machine_settings as m, settings_key as k; print(k(m()))')"; \
		log=$$(mktemp); if $(KERNEL_ENV) $$k $(PY) -m pytest -q $(KERNEL_TESTS) >$$log 2>&1; then tail -n 1 $$log; \
		else grep -E "^(FAILED|ERROR)" $$log; tail -n 1 $$log; failed="$$failed [$${k:-native}]"; fi; rm -f $$log; \
	done; if [ -n "$$failed" ]; then echo "test-kernels failed under:$$failed"; exit 1; fi; echo "test-kernels: all legs passed"

corpus:
	$(MIRBENCH) prepare corpus

# A paper table end to end: run (resumes), render tables + plots, check. PROFILE=ci for the reduced one;
# DATA_ROOT=/data (the folder holding msd_lastfm/, gtzan/, ...) runs the spec's `real` profile on the real data.
# Runs already recorded with the same resolved config are skipped (the committed results too): FORCE=1 re-runs.
# Training uses every core (one process: no oversubscription); the corpus build's workers use one thread each.
DATA_ROOT ?=
FORCE ?=
PROFILE ?= $(if $(DATA_ROOT),real,default)
TRAIN_THREADS ?= $(shell nproc 2>/dev/null || echo 1)
table-%:
	$(if $(DATA_ROOT),MIRBENCH_DATA=$(DATA_ROOT)) OMP_NUM_THREADS=$(TRAIN_THREADS) MKL_NUM_THREADS=$(TRAIN_THREADS) \
		$(MIRBENCH) run $* --profile $(PROFILE) $(if $(FORCE),--force)
	$(MIRBENCH) table $* --profile $(PROFILE)
	$(MIRBENCH) check $* --profile $(PROFILE)

# The tutorial's table on its real NSynth CSVs (../shared/data): always re-run in full (about 1 min on CPU).
table-tutorial2020:
	$(MIRBENCH) run tutorial2020 --force
	$(MIRBENCH) table tutorial2020
	$(MIRBENCH) check tutorial2020

check-%:
	$(MIRBENCH) check $* --profile $(PROFILE)

quickstart: corpus
	$(MIRBENCH) fit --config benchmarks/configs/base/trainer.yaml --config benchmarks/configs/data/corpus.yaml --config benchmarks/configs/ismir2020/classification_norm.yaml
	$(MIRBENCH) test --config benchmarks/configs/base/trainer.yaml --config benchmarks/configs/data/corpus.yaml --config benchmarks/configs/ismir2020/classification_norm.yaml --ckpt_path best

bench:
	$(PY) -m benchmarks.perf

clean:
	rm -rf lightning_logs runs
