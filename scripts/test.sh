#!/usr/bin/env bash
# Runs the whole test suite: installs what is missing, builds, and runs every test, the console's
# browser test included (headless Chromium; its screenshot goes to .build/test-output/console.png).
# Then builds the custom-filter example package (a separate package that depends on Sluice by path,
# with its own .build) and runs its tests, so a change that breaks users' filters fails here. Last, builds the fuzz
# targets with libFuzzer and the address sanitizer and runs each for a short while from its committed
# corpus (scripts/fuzz.sh; about 3 minutes in all on 2 cores); FUZZ_SECONDS changes the time per
# target, and FUZZ_SECONDS=0 skips the step.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --tests
# Tests open many sockets at once.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
swift build --build-tests
SLUICE_BROWSER_TEST=1 SLUICE_TEST_OUTPUT="$PWD/.build/test-output" swift test --skip-build
swift build --package-path examples/custom-filter --build-tests
swift test --package-path examples/custom-filter --skip-build
if [[ "${FUZZ_SECONDS:-20}" != 0 ]]; then
    scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
fi
