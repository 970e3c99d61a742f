#!/usr/bin/env bash
# The hedge bench: builds sluice in release mode (scratch path .build-release) and runs
# bench/hedge.py, which writes bench/results/hedge.md and hedge.json. Arguments go to hedge.py.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --scratch-path .build-release --product sluice >&2
python3 bench/hedge.py --sluice .build-release/release/sluice "$@"
