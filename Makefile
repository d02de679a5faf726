# mlperfctl developer entry points. `make demo` and `make test` work on a fresh Debian 12
# machine as root, each installing what it needs first (idempotent): the demo the Python packages, the
# Docker engine and the local base; the tests also podman, a one-node Slurm cluster and chromium.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: setup docker engine test-engines browser demo test test-fast lint bench generate clean

setup: $(STAMP) engine

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	@# The CPU build of torch first, only from a local wheel, so that accelerate's `torch>=2.0` is already met
	@# and pip never pulls PyPI's CUDA build (about 5 GB with its nvidia-* libraries) into the venv.
	$(BIN)/pip install -q 'torch==2.13.0+cpu' || echo "note: no CPU torch wheel here; pytorch tests will skip"
	$(BIN)/pip install -q -e '.[harness,dev,generative,medical-recommendation,tflite]'
	touch $(STAMP)

# chromium, for the report test (the page loaded headless): `make test` installs it, `make demo` needs none
browser:
	bash scripts/browser-setup.sh

docker:
	bash scripts/engine-setup.sh

# every engine and launcher, ready to try: docker, rootless podman, and Slurm's daemons, started
engine: docker
	bash scripts/podman-setup.sh rootless
	bash scripts/slurm-setup.sh

# what the tests need installed: docker, rootless podman and Slurm's packages; no Slurm daemon is started here
# (the tests that need Slurm start its daemons and stop them afterwards: tests/conftest.py's slurm_cluster)
test-engines: docker
	bash scripts/podman-setup.sh rootless
	bash scripts/slurm-setup.sh install

generate: $(STAMP)
	$(BIN)/mlperfctl generate

# the demo needs only the Python packages and Docker: no podman, no Slurm daemons left running
demo: $(STAMP) docker
	bash scripts/demo.sh

# The whole suite with the engine tests under docker, then the engine test modules again under podman. The tests
# that need Slurm start its daemons and stop them; the stop below is a last guard, pass or fail (the engines stay).
test: $(STAMP) test-engines browser
	@rc=0; \
	MLPERFCTL_REQUIRE_ENGINE=1 $(BIN)/python -m pytest -q --engine docker || rc=$$?; \
	if [ $$rc -eq 0 ]; then \
	  MLPERFCTL_REQUIRE_ENGINE=1 $(BIN)/python -m pytest -q -m engine --engine podman tests/test_engine_*.py || rc=$$?; \
	fi; \
	bash scripts/slurm-setup.sh stop >/dev/null; \
	exit $$rc

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not engine"

lint: $(STAMP)
	$(BIN)/ruff check mlperfctl mlperf_harness mlperf_rules tests bench
	$(BIN)/mlperfctl matrix validate
	$(BIN)/mlperfctl generate --check

bench: setup
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) out demo .pytest_cache
