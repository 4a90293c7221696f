# Targets the README names. Everything installs into .venv; nothing outside the checkout.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= .coursegen
QUERY ?= Learn DCF valuation
HOURS ?= 2

.PHONY: setup demo eval test test-fast lint format serve db-start db-stop clean requirements

# pyproject.toml declares every dependency; the extras: local (embedded PostgreSQL, offline
# embedder, document parsers), aws (boto3 for the adapters and the deploy tooling), dev (tests,
# linters), bench. Editable: the `coursegen` command runs this checkout's code.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[local,aws,dev]"
	touch $@

setup: $(BIN)/.installed  ## install everything into .venv

requirements: setup  ## derive requirements.txt (the Lambda zip) and requirements-ingest.txt (the ingestion layer) from pyproject.toml
	$(BIN)/python -m deploy.requirements

demo: setup  ## load the sample library and generate a course on the embedded default
	$(BIN)/coursegen --data-dir $(DATA_DIR) library load samples/library/*.json
	$(BIN)/coursegen --data-dir $(DATA_DIR) generate "$(QUERY)" --hours $(HOURS)

# A throwaway library (its own PostgreSQL in a temporary folder, removed after): $(DATA_DIR) is untouched.
eval: setup  ## score the outlines of samples/eval's annotated requests (offline planner); non-zero on a missed threshold
	$(BIN)/coursegen eval samples/eval/requests.json --library samples/eval/library --planner offline

test: setup  ## the whole test suite: unit, integration (PostgreSQL, moto), end to end, deployment
	$(BIN)/python -m pytest

# The quick deployment checks (chalice package, post-processing, terraform fmt) without the apply:
# $(BIN)/python -m pytest -m "deploy and not slow" (about 10 s; needs Terraform).
test-fast: setup  ## about a minute: the unit and integration tests but the slow ones; no Terraform
	$(BIN)/python -m pytest tests/unit tests/integration -m "not slow and not deploy"

lint: setup  ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Benchmarks print tables (medians and spreads); they are not tests and assert nothing about time.
# bench/RESULTS.md keeps the latest figures. The vector benchmark runs 10k chapters here; the 100k
# figure: $(BIN)/python -m bench.vector_search --rows 100000 (a few minutes per index build).
.PHONY: bench
$(BIN)/.bench-installed: $(BIN)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[local,aws,dev,bench]"
	touch $@

bench: setup $(BIN)/.bench-installed  ## run every benchmark (about 12 minutes; the package build needs the package index once)
	$(BIN)/python bench/prompt_tokens.py
	$(BIN)/python -m bench.ingest_tokens
	$(BIN)/python -m bench.orchestration
	$(BIN)/python -m bench.sections
	$(BIN)/python -m bench.throughput
	$(BIN)/python -m bench.state_size
	$(BIN)/python -m bench.watchdog
	$(BIN)/python -m bench.package_size
	$(BIN)/python -m bench.cold_start
	$(BIN)/python -m bench.vector_search
	$(BIN)/python -m bench.owner_filter
	$(BIN)/python -m bench.install

serve: setup  ## chalice local with the whole workflow in process (PostgreSQL in $(DATA_DIR))
	COURSEGEN_DATA_DIR=$(DATA_DIR) $(BIN)/chalice local --stage local --no-autoreload

db-start: setup
	$(BIN)/coursegen --data-dir $(DATA_DIR) db start

db-stop: setup
	$(BIN)/coursegen --data-dir $(DATA_DIR) db stop

clean: ## stop the local server and remove local data
	-$(BIN)/coursegen --data-dir $(DATA_DIR) db stop
	rm -rf $(DATA_DIR)

# --- Deploy to AWS (docs/deployment.md) ---------------------------------------------------------
STAGE ?= dev
ENVIRONMENTS := dev prod
IAC := $(VENV)/iac
TF ?= terraform
TF_ENV := terraform/environments/$(STAGE)
TF_OFFLINE := TF_CLI_CONFIG_FILE=$(CURDIR)/build/terraformrc

.PHONY: iac-setup package tf-check smoke

# checkov pins an older boto3 than the app, so it gets its own venv inside .venv, from its own
# requirements file: it needs nothing of the app.
$(IAC)/.installed: requirements-iac.txt
	$(PYTHON) -m venv $(IAC)
	$(IAC)/bin/pip install --quiet --disable-pip-version-check -r requirements-iac.txt
	touch $@

iac-setup: $(IAC)/.installed  ## checkov for tf-check and the deployment tests

test: iac-setup

package: setup  ## chalice package + post-process into terraform/environments/$(STAGE)/app
	$(BIN)/python -m deploy package --stage $(STAGE)

# Every environment, offline: the provider comes from the local mirror and must match the
# committed lock file (-lockfile=readonly); then stock checkov with .checkov.yaml.
tf-check: setup iac-setup  ## terraform fmt and validate of every environment (offline), checkov
	for env in $(ENVIRONMENTS); do $(BIN)/python -m deploy package --stage $$env || exit 1; done
	$(BIN)/python -m deploy tf-config build/terraformrc
	$(TF) fmt -check -recursive terraform
	for env in $(ENVIRONMENTS); do \
	  $(TF_OFFLINE) $(TF) -chdir=terraform/environments/$$env init -backend=false -input=false -lockfile=readonly \
	  && $(TF_OFFLINE) $(TF) -chdir=terraform/environments/$$env validate || exit 1; \
	done
	$(IAC)/bin/checkov --config-file .checkov.yaml -d terraform --quiet
	$(BIN)/python -m deploy checkov terraform

# Needs an applied environment and AWS credentials allowed execute-api:Invoke on its API.
smoke: setup  ## one course through the deployed $(STAGE) stack: SigV4-signed POST, poll to complete, timings
	$(BIN)/python -m deploy smoke --stage $(STAGE)
