# The two commands in the README, plus the benchmarks. Each sets up what it needs first
# (scripts/bootstrap.sh is idempotent and takes a fraction of a second once done).
.PHONY: run test setup bench

setup:
	@scripts/bootstrap.sh

# RUN_ARGS go to `strongroom`: `make run RUN_ARGS=--self-test` checks instead of opening.
run: setup
	@scripts/run_app.sh $(RUN_ARGS)

test: setup
	@scripts/run_tests.sh $(PYTEST_ARGS)

bench: setup
	@QT_QPA_PLATFORM=$${QT_QPA_PLATFORM:-offscreen} .venv/bin/python bench/run_all.py

# Carrying the app onto an isolated machine (see docs/officer.md).
.PHONY: bundle wheelhouse package-check

bundle:
	@packaging/build_bundle.sh

wheelhouse:
	@packaging/build_wheelhouse.sh

package-check: setup
	@scripts/run_tests.sh -m packaging tests/packaging
