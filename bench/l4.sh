#!/usr/bin/env bash
# L4 benchmark: strait's TCP proxy against direct connections, side by side
# on loopback, as ratios. Arguments go to the program (see -h), e.g.
#   bench/l4.sh -rounds 6 -rate-for 3s
# With SPLICE_CHECK=1 it also counts the copy syscalls under strace, to show
# that the proxy moves bulk data with splice(2) rather than read/write.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)/l4bench
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./bench/l4
"$bin" "$@"
if [[ "${SPLICE_CHECK:-0}" == 1 ]]; then
	echo "--- syscalls of a 1-stream, 64 MiB each way run (strace -f -c)"
	out=$(dirname "$bin")/strace.txt
	strace -f -c -e trace=splice,read,write -o "$out" \
		"$bin" -rounds 1 -streams 1 -bytes $((64 << 20)) -rate-for 100ms -rate-workers 1 >/dev/null
	cat "$out"
fi
