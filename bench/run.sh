#!/usr/bin/env bash
# One command for the whole benchmark: installs the peers (nginx, HAProxy, LiteLLM, matplotlib),
# builds Sluice and the load generator in release mode, runs every scenario against every target,
# and writes bench/results/latest.md, latest.json and latest.png.
#
#   bench/run.sh            the full run (about 15 minutes)
#   bench/run.sh --quick    shorter runs and fewer held streams, for iteration
#   bench/run.sh --targets sluice-full,nginx   a subset (direct is always included)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
mkdir -p bench/results/tmp

# Every process the driver starts is its own process group, killed by the driver; this catches the driver.
DRIVER=""
cleanup() { if [ -n "$DRIVER" ] && kill -0 "$DRIVER" 2>/dev/null; then kill -TERM "$DRIVER" 2>/dev/null || true; wait "$DRIVER" 2>/dev/null || true; fi; }
trap cleanup EXIT INT TERM

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
need_apt=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need_apt+=(haproxy)
pkg-config --exists libevent_openssl 2>/dev/null || need_apt+=(libevent-dev libssl-dev pkg-config)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "bench: installing ${need_apt[*]}" >&2
  # A failure here is reported as "not set up" for that target in the results, not as a crash.
  ($SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}") >&2 || echo "bench: apt-get failed" >&2
fi
# (A system nginx that the package may have started on port 80 is left alone: the benchmark's own
# nginx, HAProxy and LiteLLM listen on ports 18101-18105 and use their own configuration files.)
python3 -c 'import matplotlib' 2>/dev/null || python3 -m pip install -q matplotlib >&2 || echo "bench: matplotlib not installed, no chart" >&2
command -v litellm >/dev/null 2>&1 || python3 -m pip install -q 'litellm[proxy]' >&2 || echo "bench: litellm not installed" >&2

echo "bench: building sluice and sluice-load (release)" >&2
swift build -c release --product sluice >&2
(cd bench && swift build -c release --product sluice-load >&2)

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
python3 bench/driver.py "$@" &
DRIVER=$!
wait "$DRIVER"
