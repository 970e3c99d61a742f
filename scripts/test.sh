#!/usr/bin/env bash
# Runs the whole test suite: installs what is missing, builds, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Tests open many sockets at once.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
swift build --build-tests
swift test --skip-build
