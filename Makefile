# OTD Pay — the two commands: `make run` and `make test`.
# Both install what they need (virtual environment, locked packages); PostgreSQL and
# the Kafka-compatible broker are embedded unless DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS are set.

VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.lock-installed
PYTEST_ARGS ?=

.PHONY: run test test-unit test-integration lint format bench fuzz chaos ledger-long lock migrate clean help

help:
	@echo "make run    - start the whole cluster on embedded defaults (Ctrl-C stops it)"
	@echo "make test   - run unit, integration and e2e tests against real PostgreSQL and broker"
	@echo "make lint   - ruff and mypy strict"
	@echo "make bench  - benchmarks with baselines measured in the same run"
	@echo "make chaos  - service SIGKILLs, crashes inside consumer batches, broker and PostgreSQL restarts under payments of every channel, money oracle (OTD_CHAOS_SEED replays)"
	@echo "make fuzz   - long schemathesis and parser fuzzing (tests/hostile; OTD_FUZZ_SEED replays)"

$(STAMP): requirements/requirements.lock scripts/bootstrap_venv.sh
	bash scripts/bootstrap_venv.sh

venv: $(STAMP)

run: $(STAMP)
	$(PY) -m otd_launcher

test: $(STAMP)
	$(PY) scripts/run_tests.py $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(PY) -m pytest -q -m "not integration and not e2e" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared/src order-service/src billing-service/src payment-gateway/src ledger-service/src recon-service/src services/launcher/src services/channel-sandbox/src services/finance-console/src services/ops-cli/src benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	$(PY) -m benchmarks

fuzz: $(STAMP)
	OTD_FUZZ_EXAMPLES=$${OTD_FUZZ_EXAMPLES:-200} OTD_FUZZ_MAX_TIME_S=$${OTD_FUZZ_MAX_TIME_S:-180} \
	OTD_FUZZ_PHASES=$${OTD_FUZZ_PHASES:-examples,coverage,fuzzing} \
	OTD_PARSER_EXAMPLES=$${OTD_PARSER_EXAMPLES:-3000} \
		$(PY) -m pytest -q tests/hostile -k "fuzz or parsers" $(PYTEST_ARGS)

# make chaos: processes ended inside consumer batches (otd_shared.crash_points), service@point
CHAOS_CRASH_POINTS := billing-service@consumer_after_db_commit,ledger-service@consumer_after_db_commit,recon-service@consumer_after_db_commit,order-service@consumer_before_db_commit,payment-gateway@consumer_before_db_commit

chaos: $(STAMP)
	OTD_CHAOS_ORDERS=$${OTD_CHAOS_ORDERS:-120} OTD_CHAOS_BROKER_RESTARTS=$${OTD_CHAOS_BROKER_RESTARTS:-4} \
	OTD_CHAOS_PG_RESTARTS=$${OTD_CHAOS_PG_RESTARTS:-2} OTD_CHAOS_KILLS=$${OTD_CHAOS_KILLS:-1} \
	OTD_CHAOS_CRASH_POINTS=$${OTD_CHAOS_CRASH_POINTS:-$(CHAOS_CRASH_POINTS)} \
		$(PY) -m pytest -q -s tests/hostile/test_hostile_chaos_broker.py $(PYTEST_ARGS)

ledger-long: $(STAMP)
	LEDGER_STATEFUL_EXAMPLES=10000 $(PY) -m pytest -q ledger-service/tests -k stateful

migrate: $(STAMP)
	$(PY) -m otd_launcher.migrate

lock:
	$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip compile --generate-hashes --no-header --python-version 3.11 \
		requirements/requirements.in -o requirements/requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
