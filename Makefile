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

.PHONY: install test test-unit test-smoke test-regression bench corpus quickstart clean table-% check-% table-tutorial2020

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
