# stitchkit: every target first brings .venv up to date (idempotent: re-installs only when pyproject.toml changes).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= $(or $(STITCHKIT_PROFILE),lab)
JUPYTER_ARGS ?=
CAMPAIGN_ARGS ?=
PYTEST_ARGS ?=
# One worker per usable core, capped by memory (stitchkit/cores.py, standard library only: runs before setup).
WORKERS ?= $(shell $(PYTHON) stitchkit/cores.py 2>/dev/null || echo 2)
# JupyterLab refuses to start as root (containers, CI) unless told it may.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
# MUJOCO_GL is left to the user, else to stitchkit.gl (EGL on Linux, CGL on macOS): no default here.

# Datasets differ by profile: tests (smoke) and reports at other profiles get their own data folder, so they
# never collide with the lab data `make lab` built in data/ (committed policies stay in data/policies/).
TEST_DATA := STITCHKIT_DATA=$(CURDIR)/data/test MINARI_DATASETS_PATH=$(CURDIR)/data/test/minari
REPORT_DATA := $(if $(filter lab,$(PROFILE)),,STITCHKIT_DATA=$(CURDIR)/data/$(PROFILE) MINARI_DATASETS_PATH=$(CURDIR)/data/$(PROFILE)/minari)

NOTEBOOKS := $(wildcard notebooks/[0-9][0-9]_*.py)
IPYNB := $(NOTEBOOKS:.py=.ipynb)

.PHONY: help setup notebooks data policies lab lint format test report student campaign clean
.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
	@echo "  variables: PROFILE=smoke|lab|full (report), JUPYTER_ARGS=\"--no-browser --port 8899\" (lab)"

setup: $(VENV)/.installed ## create .venv and install stitchkit with its notebook and dev extras

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $@

notebooks: setup ## generate the .ipynb twins of the py:percent notebooks (keeps edits made in JupyterLab)
	@if [ -n "$(NOTEBOOKS)" ]; then $(VENV)/bin/jupytext --sync --quiet $(NOTEBOOKS); fi

data: setup ## build the course's datasets, then DiffStitch's and ASTRO's models and the generated data of notebooks 06 and 08, at PROFILE if missing (two at a time)
	$(PY) -m stitchkit data defaults --profile $(PROFILE) --workers $(WORKERS)

policies: setup ## train or resume the behaviour policies (TQC, 1M steps each, hours: rerun to continue)
	for env in hopper walker2d halfcheetah; do \
	  OMP_NUM_THREADS=1 nice -n 19 $(PY) -m stitchkit data train-policy $$env --steps 1000000 --algo tqc \
	    > data/policies-$$env.log 2>&1 & \
	done; wait

lab: setup data notebooks ## set up, build the default data if missing, open JupyterLab on notebooks/
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG) $(JUPYTER_ARGS)

lint: setup ## ruff: lint and check formatting (make format fixes what it can)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup ## ruff: format the code and notebooks, apply safe lint fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: setup notebooks lint ## set up, lint, then unit tests and every notebook through nbmake at the smoke profile (one torch thread per worker)
	$(TEST_DATA) STITCHKIT_PROFILE=smoke OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -n $(WORKERS) tests $(IPYNB) --nbmake --nbmake-timeout=900 $(PYTEST_ARGS)

report: setup notebooks ## build the course's data if missing (as make lab does), execute every notebook at PROFILE (default lab), two at a time on two cores, write reports/index.html
	$(REPORT_DATA) $(PY) -m stitchkit data defaults --profile $(PROFILE) --workers $(WORKERS)
	$(REPORT_DATA) $(PY) -m stitchkit report --profile $(PROFILE) --workers $(WORKERS)
	@if command -v chromium >/dev/null; then $(PY) -m stitchkit report --check; \
	  else echo "(no chromium: skipped the offline page check, \`stitchkit report --check\`)"; fi

campaign: setup ## parity with CORL, then DiffStitch's Table 1 on D4RL-like data, then TELS: the next pending runs, one core each, records in results/<campaign>/ (hours; CAMPAIGN_ARGS="--hours 2 --commit")
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m stitchkit campaign run parity campaign-d4rl campaign-guidance $(CAMPAIGN_ARGS)
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m stitchkit campaign run campaign-tels $(CAMPAIGN_ARGS)

student: setup ## write student/: the notebooks without their solution cells (exercise checks fail until answered)
	$(PY) -m stitchkit student

clean: ## remove generated notebooks, reports and caches (keeps .venv and data/)
	rm -rf reports student notebooks/*.ipynb .pytest_cache
	find . -name __pycache__ -type d -prune -not -path "./$(VENV)/*" -exec rm -rf {} +
