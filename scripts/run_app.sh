#!/usr/bin/env bash
# Makes sure the demo model and the embedding model are in this computer's store and usable
# (scripts/demo_setup.py: a signed transfer drive, the verified import, the smoke test and
# the promotion, each done only when not done yet), then opens the window. Arguments go to
# `strongroom`: `scripts/run_app.sh --self-test` checks the installation instead.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python scripts/demo_setup.py
exec .venv/bin/strongroom "$@"
