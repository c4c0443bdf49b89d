#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite.
# Tests read real clips from ../shared/data (beside the checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"
