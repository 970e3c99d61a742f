#!/usr/bin/env bash
# Quick start: installs what is missing, builds Sluice, and runs it with filters/default.yaml.
# Extra arguments go to `sluice run` (e.g. --listen 127.0.0.1:8081).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --product sluice
exec .build/debug/sluice run "$@"
