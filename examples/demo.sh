#!/usr/bin/env bash
# The demo: three demo backends and strait on configs/demo.yaml, all on
# loopback; a short bounded load through strait; then strait keeps serving
# until Ctrl-C. Stops only the processes it started.
set -euo pipefail
cd "$(dirname "$0")/.."
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

for i in 0 1 2; do
  bin/demo-backend -addr "127.0.0.1:1000$i" -name "backend-$i" 2>/dev/null &
  pids+=($!)
done
bin/strait serve -config configs/demo.yaml &
pids+=($!)

echo "== sending 3000 SayHello calls through strait (127.0.0.1:9000), 30 at a time"
bin/loadgen -addr 127.0.0.1:9000 -n 3000 -c 30 -max-time 30s
echo
echo "== strait is serving on 127.0.0.1:9000 (helloworld.Greeter, grpc.testing.*); admin on 127.0.0.1:9901"
echo "   try: bin/loadgen -addr 127.0.0.1:9000 -n 500   — Ctrl-C to stop"
if [ -n "${DEMO_EXIT:-}" ]; then exit 0; fi
wait "${pids[3]}"
