# MNIST course-report bundle.  `make` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= full
TEX_PACKAGES := texlive-xetex texlive-fonts-recommended texlive-plain-generic pandoc poppler-utils fonts-noto-cjk texlive-lang-chinese
ASSIGNMENT_FLAGS := $(foreach a,$(ASSIGNMENT),--assignment $(a))
SET_FLAGS := $(foreach s,$(SET),--set $(s))
JOBS_FLAG := $(if $(JOBS),--jobs $(JOBS))
# PRECISION=float32 trains every model in float32 (default auto: bfloat16 where the CPU or GPU has it)
export BUNDLE_PRECISION := $(or $(PRECISION),$(BUNDLE_PRECISION),auto)

.PHONY: help venv tex browser report submission notebook test bench lint format jupyter clean clean-cache

help: ## list the targets
	@echo "MNIST course-report bundle: make <target> [PROFILE=full|quick|smoke] [JOBS=jobs side by side] [PRECISION=auto|float32]"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'
	@echo "Examples: make report PROFILE=quick | make report ASSIGNMENT=nn4i_ex2 SET='nn4i_ex2/q1_autoencoding:num_epochs=3'"
	@echo "          make notebook NB=nn4i_ex2/q2_interpolation P='num_pairs=8' PROFILE=quick"

venv: $(VENV)/.installed ## create .venv from pyproject.toml (once)

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name mnist-bundle --display-name "Python (mnist-bundle)" >/dev/null
	@touch $@

tex: ## make sure xelatex, pandoc, pdftotext, xeCJK and the Noto CJK fonts exist (apt-get installs them when root on Debian)
	@if command -v xelatex >/dev/null && command -v pandoc >/dev/null && command -v pdftotext >/dev/null \
	  && kpsewhich xeCJK.sty >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing $(TEX_PACKAGES) with apt-get (a few minutes)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEX_PACKAGES) >/dev/null; \
	else echo "error: xelatex, pandoc, pdftotext, xeCJK or the Noto CJK fonts are missing; fix: install $(TEX_PACKAGES) (e.g. sudo apt-get install ...)"; exit 1; fi

browser: ## make sure Chromium exists for the HTML-report tests (apt-get installs it when root on Debian)
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium with apt-get (a few minutes)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "error: chromium is missing; fix: install it (e.g. sudo apt-get install chromium), Playwright drives it"; exit 1; fi

report: venv tex ## train the models, execute the notebooks, build report/<assignment>.pdf and .html and report/index.html
	$(PY) -m lib.build report --profile "$(PROFILE)" $(ASSIGNMENT_FLAGS) $(SET_FLAGS) $(JOBS_FLAG)

submission: venv ## package the built reports for submission (dist/), identity from student.toml
	$(PY) -m lib.submission

notebook: venv ## execute one notebook: make notebook NB=nn4i_ex2/q1_autoencoding P='num_epochs=3'
	@test -n "$(NB)" || { echo "error: NB is not set; fix: make notebook NB=nn4i_ex2/q1_autoencoding"; exit 1; }
	$(PY) -m lib.build run $(NB) --profile "$(PROFILE)" $(foreach p,$(P),-p $(p))

test: venv tex browser ## unit tests + smoke build of every report, its HTML checked in Chromium
	$(PY) -m pytest -q tests

bench: venv ## time one AE epoch: lib's loop in float32 and in auto precision (bf16) vs torchvision + DataLoader (3 rounds)
	$(PY) -m lib.bench

lint: venv ## ruff lint and format check
	$(VENV)/bin/ruff check lib tests notebooks
	$(VENV)/bin/ruff format --check lib tests

format: venv ## ruff format
	$(VENV)/bin/ruff format lib tests
	$(VENV)/bin/ruff check --fix lib tests

jupyter: venv ## open the notebooks in JupyterLab
	$(VENV)/bin/jupyter lab notebooks

clean: ## remove built reports (keeps the model cache and data)
	find report -mindepth 1 ! -name README.md -exec rm -rf {} +

clean-cache: ## remove trained models (they are retrained on the next build)
	rm -rf cache
