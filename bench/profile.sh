#!/usr/bin/env bash
# Profiles the release `sluice` under one scenario's load with perf (cpu-clock sampling, so it also
# works where hardware counters are not available) and prints the top entries.
#
#   bench/profile.sh c               # CPU per event: 200 streams at 50 tokens/s, full chain
#   bench/profile.sh d empty         # short requests, empty chain
#   bench/profile.sh a               # 1,000 streams at 20 tokens/s (the TTFT scenario)
#
# Needs perf (Debian: linux-perf) and the builds made by bench/run.sh. Everything it starts is
# stopped on exit. Loopback only; every run is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIO=${1:-c}
CHAIN=${2:-full}
SECONDS_RUN=${SECONDS_RUN:-5}
OUT=bench/results/tmp
mkdir -p "$OUT"
command -v perf >/dev/null || { echo "profile: perf not found (apt-get install linux-perf)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

case "$SCENARIO" in
  a) MOCK=(--ttft 50ms --tps 20 --tokens 20); LOAD=(--concurrency 1000 --ramp 1);;
  c) MOCK=(--ttft 0 --tps 50 --tokens 100); LOAD=(--concurrency 200 --ramp 0.5);;
  d) MOCK=(--ttft 0 --tps 1000 --tokens 1); LOAD=(--mode short --concurrency 50 --ramp 0.2);;
  *) echo "profile: scenario is a, c or d" >&2; exit 2;;
esac

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

.build/release/sluice mock --listen 127.0.0.1:18000 --workers "$(nproc)" "${MOCK[@]}" >"$OUT/profile-mock.log" 2>&1 &
PIDS+=($!)
sed -e 's/@PORT@/18101/;s/@ADMIN@/19101/;s/@UPSTREAM@/18000/' "bench/configs/sluice-$CHAIN.yaml" >"$OUT/profile.yaml"
.build/release/sluice run --config "$OUT/profile.yaml" --workers "$(nproc)" >"$OUT/profile-sluice.log" 2>&1 &
SLUICE=$!
PIDS+=($SLUICE)
sleep 1
perf record -e cpu-clock -F 1999 -g -p "$SLUICE" -o "$OUT/perf.data" -- sleep $((SECONDS_RUN + 1)) >/dev/null 2>&1 &
PERF=$!
bench/.build/release/sluice-load --target 127.0.0.1:18101 --pid "$SLUICE" --duration "$SECONDS_RUN" "${LOAD[@]}" >"$OUT/profile-load.json"
wait "$PERF" || true
echo "== load: $(cut -c1-300 "$OUT/profile-load.json")"
echo "== by shared object"
perf report -i "$OUT/perf.data" --no-children --sort dso -g none 2>/dev/null | grep '%' | head -8
echo "== top entries, self time"
perf report -i "$OUT/perf.data" --no-children --sort symbol -g none 2>/dev/null | grep '%' | head -25 | swift demangle --simplified | cut -c1-150
echo "== Sluice functions, time including callees"
perf report -i "$OUT/perf.data" --children --sort symbol -g none 2>/dev/null | grep '%' | grep -E 'Sluice|Filter' | head -30 | swift demangle --simplified | sed -E 's/ +/ /g' | cut -c1-150
