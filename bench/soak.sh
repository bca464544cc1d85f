#!/usr/bin/env bash
# bench/soak.sh: strait (default data path, the relay) under mixed calls
# for SOAK_DURATION (10m) with endpoint churn and a failing node: every
# SOAK_CHURN (10s) the cluster's third endpoint is swapped for another of
# a spare set (config rewritten, SIGHUP), and one endpoint fails every
# other call. Every SOAK_SAMPLE (30s) it prints a row: strait's RSS,
# goroutines and calls in flight (open client streams), from /proc and
# the admin server's /metrics. Flat after warm-up means nothing leaks.
# Loopback only; every process it starts is stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${SOAK_DURATION:-10m}
CHURN=${SOAK_CHURN:-10}
SAMPLE=${SOAK_SAMPLE:-30}
CALLERS=${SOAK_CALLERS:-16}
OUT=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$OUT"
}
trap cleanup EXIT

make -s strait
go build -o "$OUT/backend" ./examples/backend
go build -o "$OUT/soak" ./bench/soak

ports=(19711 19712 19713 19714 19715 19716)
for p in "${ports[@]}"; do
  args=(-addr "127.0.0.1:$p" -name "b$p")
  [ "$p" = 19712 ] && args+=(-fail-every 2)
  "$OUT/backend" "${args[@]}" >/dev/null 2>&1 &
  PIDS+=($!)
done

config() { # the third endpoint rotates over the spare ports
  cat > "$OUT/strait.yaml" <<YAML
admin: {address: 127.0.0.1:19790}
listeners: [{name: edge, address: 127.0.0.1:19700, default_cluster: t}]
clusters: {t: {endpoints: [127.0.0.1:19711, 127.0.0.1:19712, 127.0.0.1:$1]}}
YAML
}
config 19713
bin/strait serve -config "$OUT/strait.yaml" >"$OUT/strait.log" 2>&1 &
STRAIT=$!
PIDS+=($STRAIT)
for _ in $(seq 50); do curl -sf http://127.0.0.1:19790/readyz >/dev/null && break; sleep 0.2; done

"$OUT/soak" -addr 127.0.0.1:19700 -callers "$CALLERS" -duration "$DURATION" >"$OUT/soak.out" &
LOAD=$!
PIDS+=($LOAD)

metric() { curl -sf http://127.0.0.1:19790/metrics | awk -v m="$1" '$1 ~ "^"m"({|$)" {s += $2} END {print s+0}'; }
printf '%8s  %10s  %10s  %10s  %s\n' elapsed rss_mib goroutines in_flight endpoint3
start=$(date +%s); next_churn=$CHURN; next_sample=0; i=0
spare=(19713 19714 19715 19716)
while kill -0 "$LOAD" 2>/dev/null; do
  now=$(( $(date +%s) - start ))
  if [ "$now" -ge "$next_churn" ]; then
    i=$(( (i + 1) % ${#spare[@]} )); config "${spare[$i]}"; kill -HUP "$STRAIT"
    next_churn=$(( next_churn + CHURN ))
  fi
  if [ "$now" -ge "$next_sample" ]; then
    rss=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$STRAIT/status")
    printf '%7ss  %10s  %10s  %10s  %s\n' "$now" "$rss" "$(metric go_goroutines)" \
      "$(metric strait_grpc_requests_in_flight)" "${spare[$i]}"
    next_sample=$(( next_sample + SAMPLE ))
  fi
  sleep 1
done
wait "$LOAD"
now=$(( $(date +%s) - start ))
sleep 2
rss=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$STRAIT/status")
printf '%7ss  %10s  %10s  %10s  (load over)\n' "$now" "$rss" "$(metric go_goroutines)" "$(metric strait_grpc_requests_in_flight)"
cat "$OUT/soak.out"
