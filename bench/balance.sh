#!/usr/bin/env bash
# bench/balance.sh: how the default data path spreads a concurrent load
# when one of three backends is 10× slower (bench/balance: everything in
# one process on loopback, one client connection, callers joining over
# the warm-up). Prints one row per run and the medians per build and
# concurrency.
#
# Knobs (environment): REPS (3), BALANCE_CONC ("20,100"), BALANCE_FAST
# (1ms), BALANCE_SLOW (10ms), BALANCE_DURATION (5s measured per cluster),
# BALANCE_BASE (a git revision: bench/balance is also built against the
# lb of that revision and run interleaved with the current one, so the
# machine's noise hits both alike).
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${REPS:-3}
CONC=${BALANCE_CONC:-20,100}
FAST=${BALANCE_FAST:-1ms}
SLOW=${BALANCE_SLOW:-10ms}
DURATION=${BALANCE_DURATION:-5s}
BASE=${BALANCE_BASE:-}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"; [ -z "$BASE" ] || git worktree remove --force "$OUT/base-tree" 2>/dev/null || true' EXIT

go build -o "$OUT/current" ./bench/balance
builds=(current)
if [ -n "$BASE" ]; then
  git worktree add --detach -q "$OUT/base-tree" "$BASE"
  mkdir -p "$OUT/base-tree/bench/balance"
  cp bench/balance/main.go "$OUT/base-tree/bench/balance/"
  (cd "$OUT/base-tree" && go build -o "$OUT/base" ./bench/balance)
  builds=(base current)
fi

printf 'build\tcallers\tequal p50\tequal p99\tslow p50\tslow p99\tp99 ratio\tslow share %%\n'
for ((r = 1; r <= REPS; r++)); do
  for b in "${builds[@]}"; do
    "$OUT/$b" -label "$b" -c "$CONC" -fast "$FAST" -slow "$SLOW" -d "$DURATION" | tee -a "$OUT/rows.tsv"
  done
done
echo
echo "medians over $REPS runs (ms; share in %):"
printf 'build\tcallers\tequal p99\tslow p99\tp99 ratio\tslow share %%\n'
cut -f1,2 "$OUT/rows.tsv" | sort -u -k1,1 -k2,2n | while IFS=$'\t' read -r b c; do
  med() { awk -F'\t' -v b="$b" -v c="$c" -v f="$1" '$1 == b && $2 == c { print $f }' "$OUT/rows.tsv" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$b" "$c" "$(med 4)" "$(med 6)" "$(med 7)" "$(med 8)"
done
