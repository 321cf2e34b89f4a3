# The README's two commands: `make run` (the product, embedded: SQLite + ORM broker) and
# `make test` (the whole suite); `make test-fast` is the daily lane (docs/tests.md). Both create .venv and install the project on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Test processes (pytest-xdist): one per core and one more, at most 4 (each loads the models): much of
# the whole suite waits on real time (audio paced as spoken, platforms and browsers starting), and
# the extra process keeps the cores busy meanwhile. The fast lane is all CPU: one per core. A
# module's tests stay on one process (--dist loadfile), so an e2e module starts its platform once.
CORES := $(shell nproc 2>/dev/null || echo 1)
TEST_WORKERS ?= $(shell n=$$(( $(CORES) + 1 )); echo $$(( n < 4 ? n : 4 )))
FAST_WORKERS ?= $(shell n=$(CORES); echo $$(( n < 4 ? n : 4 )))
DOCS_PORT ?= 8001
STAMP := $(VENV)/.installed

.PHONY: run test test-fast install lint format migrate clean benchmark docs

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python manage.py fetch_speaker_encoder
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@$(BIN)/python manage.py ensure_demo --login --url http://127.0.0.1:$(PORT)/
	$(BIN)/python manage.py serve --port $(PORT)

test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# Everything but the e2e tests and those whose subject is the real engine's output.
test-fast: install
	$(BIN)/python -m pytest -n $(FAST_WORKERS) --dist loadfile -m "not e2e and not inference" $(PYTEST_ARGS)

benchmark: install
	$(BIN)/python manage.py benchmark $(BENCHMARK_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# The documentation site (mkdocs.yml, docs/), reloaded as its pages change.
docs: install
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:$(DOCS_PORT)

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var .pytest_cache site
