#!/usr/bin/env bash
# Runs the cargo-fuzz targets with libFuzzer, each for a fixed time, and prints their figures.
#
#   fuzz/run.sh [SECONDS] [JOBS] [TARGET...]
#
# SECONDS per target (default 600), JOBS targets at a time (default 2), TARGETs (default all:
# alert audit_entry playbook filter). Needs cargo-fuzz (`cargo install cargo-fuzz`) and, on a
# stable toolchain, RUSTC_BOOTSTRAP=1 for libFuzzer's nightly flags (set here). Each corpus is
# seeded from fuzz/seeds/TARGET, the repository's own samples and ../shared/realdata when present.
# FUZZ_NO_BUILD=1 skips the build and runs the binaries in fuzz/target as they are.
# Logs go to fuzz/runs/TARGET.log, crashes to fuzz/artifacts/TARGET/; figures: docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-600}
jobs=${2:-2}
shift $(($# < 2 ? $# : 2))
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(alert audit_entry playbook filter)
fi
realdata=../../shared/realdata
export RUSTC_BOOTSTRAP=1

seed() { # seed TARGET FILE...
    local dir=corpus/$1
    shift
    mkdir -p "$dir"
    for f in "$@"; do
        [ -f "$f" ] && cp -n "$f" "$dir/$(sha1sum "$f" | cut -c1-16)" || true
    done
}

for t in "${targets[@]}"; do
    seed "$t" seeds/"$t"/*
    case $t in
        alert)
            seed alert ../mocks/scenarios/*.alert.json
            [ -d $realdata ] && seed alert $(find $realdata/lacework-alerts $realdata/audit-logs -type f)
            ;;
        audit_entry)
            [ -d $realdata ] && seed audit_entry $(find $realdata/audit-logs -type f)
            ;;
        playbook)
            seed playbook ../playbooks/*.yaml
            ;;
        filter)
            [ -d $realdata ] && seed filter $(find $realdata/audit-logs/cloud-custodian -type f)
            ;;
    esac
done

# FUZZ_NO_BUILD=1 runs the binaries already built (a long run must not pick up a tree that
# others are editing half way).
if [ "${FUZZ_NO_BUILD:-0}" != 1 ]; then
    nice -n 10 cargo fuzz build -O 2>&1 | tail -n 3
fi
# A copy of the binaries, so that a build during the run cannot touch the running ones.
mkdir -p runs/bin
for t in "${targets[@]}"; do
    cp "target/$(rustc -vV | sed -n 's/^host: //p')/release/$t" runs/bin/
done
bin_dir=runs/bin

run() {
    local t=$1
    mkdir -p "artifacts/$t"
    # The binary built above, run directly: `cargo fuzz run` would rebuild whenever the
    # sources change under a long run.
    nice -n 10 "$bin_dir/$t" "corpus/$t" -artifact_prefix="artifacts/$t/" \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
        -print_final_stats=1 >"runs/$t.log" 2>&1 || true
    local execs crashes
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "runs/$t.log" | grep -o '[0-9]*$' || echo '?')
    crashes=$(find "artifacts/$t" -type f | wc -l)
    echo "$t: ${secs}s, executions ${execs}, artifacts ${crashes}, corpus $(find "corpus/$t" -type f | wc -l)"
}

running=0
for t in "${targets[@]}"; do
    run "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait
