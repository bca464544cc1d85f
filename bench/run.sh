#!/usr/bin/env bash
# make bench: the same bounded ghz load (SayHello, -c 50, 1 and 10 client
# connections) against one demo backend direct, strait, the grpc-proxy
# baseline and (BENCH_HAPROXY=1) HAProxy, all in front of the same three
# demo backends on loopback. Runs are interleaved (direct, strait,
# baseline, ... per repetition) so the machine's noise hits all alike;
# the table gives medians over the repetitions, the ratio to direct of
# the same repetition, and the CPU each proxy used per request (from
# /proc/PID/stat). Stops every process it started, by PID.
#
# Knobs (environment): REPS (3), BENCH_DURATION (5s per run),
# BENCH_WARMUP (2s per target), BENCH_CONNS ("1 10"), BENCH_CONCURRENCY
# (50), BENCH_HAPROXY (0; 1 adds HAProxy, installed with apt-get when
# missing), BENCH_OUT (directory for raw results; a temporary one by
# default), BENCH_STRAIT_ENV (environment for strait alone, e.g.
# "GOGC=400"), BENCH_VARIANTS (other strait builds to compare while tuning,
# "NAME=PATH ...": each PATH is run like bin/strait, on port 19610 and up;
# a wrapper that ends in `exec bin/strait "$@"` can set GOGC and such),
# BENCH_TARGETS (the built-in targets to run; "direct strait strait-grpc
# baseline" by default, direct always among them).
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${REPS:-3}
DURATION=${BENCH_DURATION:-5s}
WARMUP=${BENCH_WARMUP:-2s}
CONNS=${BENCH_CONNS:-"1 10"}
CONC=${BENCH_CONCURRENCY:-50}
HAPROXY=${BENCH_HAPROXY:-0}
GHZ_VERSION=v0.93.0 # newer ghz uses far more CPU and distorts ratios on 2 cores
TOOLS=$PWD/bin/tools
BACKENDS=(127.0.0.1:19700 127.0.0.1:19701 127.0.0.1:19702)
declare -A ADDR=([direct]=127.0.0.1:19700 [strait]=127.0.0.1:19600 [baseline]=127.0.0.1:19601 [haproxy]=127.0.0.1:19602 [strait-grpc]=127.0.0.1:19603)
VARIANTS=${BENCH_VARIANTS:-}
BUILTIN=${BENCH_TARGETS:-"direct strait strait-grpc baseline"}
STRAIT_ENV=${BENCH_STRAIT_ENV:-}
declare -A PID=()
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench: $*" >&2; }

install_tools() {
  mkdir -p "$TOOLS"
  if ! go version -m "$TOOLS/ghz" 2>/dev/null | grep -q "mod.*github.com/bojand/ghz.*$GHZ_VERSION"; then
    log "installing ghz $GHZ_VERSION into $TOOLS"
    GOBIN=$TOOLS go install "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION"
  fi
  go build -o "$TOOLS/benchtool" ./bench/benchtool
  # Its own module, so grpc-proxy's old dependencies stay out of strait's.
  (cd bench/baseline && go build -o "$TOOLS/baseline" .)
  if [ "$HAPROXY" = 1 ] && ! command -v haproxy >/dev/null; then
    log "installing haproxy (Debian package)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
  fi
}

# port_busy ADDR: true when something already listens there.
port_busy() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }

# wait_ready NAME ADDR: until ADDR accepts connections, for at most 10 s,
# failing early if the process we started for it has died.
wait_ready() {
  local name=$1 addr=$2 i
  for ((i = 0; i < 100; i++)); do
    kill -0 "${PID[$name]}" 2>/dev/null || { log "$name exited during start-up"; exit 1; }
    port_busy "$addr" && return 0
    sleep 0.1
  done
  log "$name not listening on $addr after 10s"
  exit 1
}

# start NAME ADDR CMD...: runs CMD in the background (no subshell, so the
# PID is the process itself) and waits until it listens on ADDR.
start() {
  local name=$1 addr=$2
  shift 2
  "$@" >"$OUT/$name.log" 2>&1 &
  PID[$name]=$!
  pids+=($!)
  wait_ready "$name" "$addr"
}

start_all() {
  local addr t i
  # 19690 and up: the admin servers of strait and its variants.
  for addr in "${BACKENDS[@]}" $(for t in "${TARGETS[@]}"; do echo "${ADDR[$t]}"; done) \
    $(for ((i = 0; i <= ${#TARGETS[@]}; i++)); do echo "127.0.0.1:$((19690 + i))"; done); do
    if port_busy "$addr"; then log "$addr is already in use; stop what listens there first"; exit 1; fi
  done
  for i in "${!BACKENDS[@]}"; do
    start "backend$i" "${BACKENDS[$i]}" bin/demo-backend -addr "${BACKENDS[$i]}" -name "backend-$i"
  done
  PID[direct]=${PID[backend0]}
  # env execs strait, so the PID stays strait's own.
  # shellcheck disable=SC2086 # STRAIT_ENV is a list of VAR=value words.
  if wanted strait; then
    start strait "${ADDR[strait]}" env $STRAIT_ENV bin/strait serve -config bench/strait.yaml -log-level warn
  fi
  # The same strait on its grpc-go reference data path.
  if wanted strait-grpc; then
    sed -e "s/127.0.0.1:19600/${ADDR[strait-grpc]}/" -e "s/127.0.0.1:19690/127.0.0.1:19689/" \
      -e "s/protocol: grpc/protocol: grpc\n    dataplane: grpc/" bench/strait.yaml >"$OUT/strait-grpc.yaml"
    # shellcheck disable=SC2086
    start strait-grpc "${ADDR[strait-grpc]}" env $STRAIT_ENV bin/strait serve -config "$OUT/strait-grpc.yaml" -log-level warn
  fi
  if wanted baseline; then
    start baseline "${ADDR[baseline]}" "$TOOLS/baseline" -listen "${ADDR[baseline]}" -backends "$(IFS=,; echo "${BACKENDS[*]}")"
  fi
  if [ "$HAPROXY" = 1 ]; then
    start haproxy "${ADDR[haproxy]}" haproxy -db -f bench/haproxy.cfg
  fi
  local v name admin=19691
  for v in $VARIANTS; do
    name=${v%%=*}
    sed -e "s/127.0.0.1:19600/${ADDR[$name]}/" -e "s/127.0.0.1:19690/127.0.0.1:$((admin++))/" bench/strait.yaml >"$OUT/$name.yaml"
    start "$name" "${ADDR[$name]}" "${v#*=}" serve -config "$OUT/$name.yaml" -log-level warn
  done
  for t in "${TARGETS[@]}"; do log "$t on ${ADDR[$t]} (pid ${PID[$t]})"; done
}

# wanted TARGET: whether TARGET is among those measured.
wanted() { [[ " ${TARGETS[*]} " == *" $1 "* ]]; }

# cpu_ticks PID: utime+stime of PID in clock ticks. Fields counted after
# the ")" that ends the command name.
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

# ghz_run TARGET CONNS BOUND OUTFILE: one bounded ghz run.
ghz_run() {
  "$TOOLS/ghz" --insecure --protoset "$OUT/helloworld.protoset" --call helloworld.Greeter.SayHello \
    -d '{"name":"bench"}' -c "$CONC" --connections "$2" -z "$3" --duration-stop wait -O json -o "$4" "${ADDR[$1]}"
}

# measure TARGET CONNS REP: one run, appended to the results.
measure() {
  local t=$1 conns=$2 rep=$3 before after
  before=$(cpu_ticks "${PID[$t]}")
  ghz_run "$t" "$conns" "$DURATION" "$OUT/run.json"
  after=$(cpu_ticks "${PID[$t]}")
  # For direct this is the backend's own CPU, which the table shows in
  # parentheses: a proxy does a server's work and a client's.
  "$TOOLS/benchtool" record -target "$t" -conns "$conns" -rep "$rep" -ticks "$((after - before))" -clk-tck "$HZ" "$OUT/run.json" \
    | tee -a "$OUT/results.tsv" >&2
}

main() {
  OUT=${BENCH_OUT:-$(mktemp -d /tmp/strait-bench.XXXXXX)}
  mkdir -p "$OUT"
  : >"$OUT/results.tsv"
  HZ=$(getconf CLK_TCK)
  local b
  TARGETS=(direct)
  for b in $BUILTIN; do
    [ -n "${ADDR[$b]:-}" ] || { log "BENCH_TARGETS: unknown target $b"; exit 2; }
    if [ "$b" != direct ] && [ "$b" != haproxy ]; then TARGETS+=("$b"); fi
  done
  if [ "$HAPROXY" = 1 ]; then TARGETS+=(haproxy); fi
  local v port=19610
  for v in $VARIANTS; do
    TARGETS+=("${v%%=*}")
    ADDR[${v%%=*}]=127.0.0.1:$((port++))
  done
  install_tools
  "$TOOLS/benchtool" protoset "$OUT/helloworld.protoset"
  start_all
  local t conns rep i n=${#TARGETS[@]}
  for t in "${TARGETS[@]}"; do
    log "warm-up $t ($WARMUP)"
    ghz_run "$t" 1 "$WARMUP" "$OUT/warmup.json"
  done
  log "conns target ok total rps p50ns p99ns cpu_ns — one line per run"
  for conns in $CONNS; do
    for ((rep = 1; rep <= REPS; rep++)); do
      # Rotate the order each repetition so no target always follows
      # the same one.
      for ((i = 0; i < n; i++)); do
        measure "${TARGETS[$(((i + rep - 1) % n))]}" "$conns" "$rep"
      done
    done
  done
  echo
  echo "ghz $GHZ_VERSION SayHello -c $CONC, $DURATION per run, $REPS reps interleaved; $(nproc) cores${STRAIT_ENV:+; strait with $STRAIT_ENV}"
  echo "raw rows in $OUT/results.tsv"
  "$TOOLS/benchtool" table "$OUT/results.tsv"
}

main "$@"
