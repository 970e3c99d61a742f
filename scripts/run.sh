#!/usr/bin/env bash
# Quick start: installs what is missing, builds Sluice, and runs it with filters/default.yaml.
# Extra arguments go to `sluice run` (e.g. --listen 127.0.0.1:8081).
set -euo pipefail
cd "$(dirname "$0")/.."
# Installing and building report on stderr: stdout is Sluice's access log, one JSON line per request.
scripts/install-deps.sh >&2
swift build --product sluice >&2
exec .build/debug/sluice run "$@"
