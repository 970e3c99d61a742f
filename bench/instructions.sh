#!/usr/bin/env bash
# The instruction-count scenario: builds the release `sluice` into .build-release, strips its DWARF
# (valgrind 3.19 cannot read Swift's DWARF 5; function names stay), and counts with callgrind the
# instructions Sluice (empty chain, eight filters), nginx and HAProxy spend per forwarded SSE event
# and per short request. Writes bench/results/instructions.md and .json.
#
#   bench/instructions.sh                      all four targets
#   bench/instructions.sh --targets sluice-full --out scratch   one target, into scratch.{md,json}
#
# Takes a few minutes (callgrind runs each proxy about 50 times slower). Single-threaded.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
need_apt=()
command -v valgrind >/dev/null 2>&1 || need_apt+=(valgrind)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need_apt+=(haproxy)
if [ ${#need_apt[@]} -gt 0 ]; then
  ($SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}") >&2
fi
export PATH="$PATH:/usr/sbin"
echo "instructions: building sluice (release, .build-release)" >&2
swift build -c release --scratch-path .build-release --product sluice >&2
mkdir -p bench/results/tmp
strip --strip-debug -o bench/results/tmp/sluice-nodebug .build-release/release/sluice
python3 bench/instructions.py bench/results/tmp/sluice-nodebug "$@"
