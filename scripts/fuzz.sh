#!/usr/bin/env bash
# Builds the libFuzzer driver (fuzz/, release, with the fuzzer and address sanitizers) and runs every
# fuzz target in turn, or the ones named, on one core each in turn.
#
#   scripts/fuzz.sh [SECONDS | -runs=N] [TARGET...]     default: 60 seconds per target, every target
#   scripts/fuzz.sh --build-only
#
# Each target starts from its committed corpus (fuzz/corpus/TARGET, never written to) and keeps what
# it finds in fuzz/.build-fuzz/work/TARGET, so a later run goes on from there. A crash or a finding
# stops that target; its input is saved as fuzz/.build-fuzz/artifacts/TARGET-crash-<sha1> and the
# script exits 1 after the other targets ran. Set FUZZ_ARGS for more libFuzzer options (e.g.
# FUZZ_ARGS=-max_len=8192). docs/fuzzing.md says how to reproduce and keep a finding.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
scratch=.build-fuzz

build() {
    swift build -c release --product sluice-fuzz --scratch-path "$scratch" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xcc -fsanitize=fuzzer-no-link,address
}

if [[ "${1:-}" == "--build-only" ]]; then
    build
    exit 0
fi

budget="-max_total_time=60"
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then
    budget="-max_total_time=$1"
    shift
elif [[ "${1:-}" == -runs=* ]]; then
    budget="$1"
    shift
fi

build >&2
binary="$scratch/release/sluice-fuzz"
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    targets=($(ls corpus))
fi

# A finding traps; Swift's backtracer would then run under ASan and add noise to the report.
export SWIFT_BACKTRACE=enable=no
failed=()
for target in "${targets[@]}"; do
    work="$scratch/work/$target"
    mkdir -p "$work" "$scratch/artifacts"
    log="$scratch/work/$target.log"
    echo "== $target ($budget)" >&2
    # shellcheck disable=SC2086
    if "$binary" "$target" "$budget" -print_final_stats=1 -artifact_prefix="$scratch/artifacts/$target-" \
        ${FUZZ_ARGS:-} "$work" "corpus/$target" >"$log" 2>&1; then
        grep -E '^(#[0-9]+.*DONE|Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | tail -3 >&2 || true
    else
        failed+=("$target")
        grep -E 'sluice-fuzz|ERROR|Fatal error|Test unit written' "$log" | head -8 >&2 || true
        echo "   full log: fuzz/$log" >&2
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz targets with findings: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: no findings in ${targets[*]}" >&2
