#!/usr/bin/env bash
# Regenerates the pictures committed under docs/ that README.md and benches/README.md show:
#   bash scripts/pictures.sh
# Run it on an otherwise idle machine: the pictures are measurements, and the sentences next
# to them describe what they show (the committed ones come from a 2-core machine).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"

# --- Thread timelines (docs/timelines/) ---------------------------------------------------
# Lesson l2-24 records one skewed workload dealt out by fixed round-robin and by one shared
# queue, and writes both timelines to $target/timelines/ (shared::timeline).
cargo run --release --quiet --package level-2-intermediate \
    --example l2-24-round-robin-against-shared-queue
mkdir -p docs/timelines
cp "$target/timelines/l2-24-round-robin.svg" "$target/timelines/l2-24-shared-queue.svg" \
    docs/timelines/
cargo run --release --quiet --package xtask --bin check-pictures -- docs/timelines

# --- Speedup charts (docs/charts/) --------------------------------------------------------
# The speedup report measures every engine at every thread count and draws one chart per
# workload: speedup against threads, the ideal line, the fitted Amdahl curve, the core count.
# benches/README.md shows the primes chart.
cargo run --release --package benches --bin speedup-report -- primes --engine all --svg docs/charts
cargo run --release --quiet --package xtask --bin check-pictures -- docs/charts
