#!/usr/bin/env bash
# L4 benchmark: strait's TCP proxy against direct connections, side by side
# on loopback, as ratios. Arguments go to the program (see -h), e.g.
#   bench/l4.sh -rounds 6 -rate-for 3s
# The "strait" column runs the proxy inside the benchmark process;
# "strait-proc" runs the same proxy in a process of its own, as deployed,
# so that it does not share the load generator's Go scheduler.
# HAPROXY=1 also measures HAProxy in `mode tcp` in front of the same
# backend, as a reference for what an L4 hop costs on this machine.
# SPLICE_CHECK=1 also counts the copy syscalls under strace, to show that
# the proxy moves bulk data with splice(2) rather than read/write.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
bin=$tmp/l4bench
go build -o "$bin" ./bench/l4

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sport=$(freeport) bport=$(freeport)
"$bin" -serve "127.0.0.1:$sport" -backend "127.0.0.1:$bport" &
pids+=($!)
extra=(-backend "127.0.0.1:$bport" -also "strait-proc=127.0.0.1:$sport,$!")
if [[ "${HAPROXY:-0}" == 1 ]]; then
	hport=$(freeport)
	cat >"$tmp/haproxy.cfg" <<CFG
global
  maxconn 4000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
listen l4
  bind 127.0.0.1:$hport
  server b 127.0.0.1:$bport
CFG
	haproxy -db -f "$tmp/haproxy.cfg" &
	pids+=($!)
	extra+=(-also "haproxy=127.0.0.1:$hport,$!")
fi
for p in "$sport" ${hport:+"$hport"}; do
	for _ in $(seq 50); do # until it listens, 5 s at most
		(: >"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break
		sleep 0.1
	done
done
"$bin" "${extra[@]}" "$@"

if [[ "${SPLICE_CHECK:-0}" == 1 ]]; then
	echo "--- syscalls of a 1-stream, 64 MiB each way run (strace -f -c)"
	strace -f -c -e trace=splice,read,write -o "$tmp/strace.txt" \
		"$bin" -rounds 1 -streams 1 -bytes $((64 << 20)) -rate-for 100ms -rate-workers 1 >/dev/null
	cat "$tmp/strace.txt"
fi
