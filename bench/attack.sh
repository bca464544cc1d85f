#!/usr/bin/env bash
# The attacks of internal/attack on strait beside HAProxy (Debian's
# haproxy, 2.6) and nghttpx (Debian's nghttp2-proxy), each in front of the
# same demo backend, with 10 legitimate callers on the attacked listener:
# per attack, whether each proxy survived, the legitimate calls' success
# and p99, the proxy's peak RSS; then the memory of an idle connection
# and of an idle stream. Loopback only, every attack bounded in count
# and time; every process started is stopped by PID. Installs haproxy
# and nghttpx with apt-get when missing. Arguments go to attackbench:
# -proxies strait,haproxy,nghttpx  -attacks NAME,...  -callers 10
# -pace 2ms  -out DIR (see bench/attackbench).
set -euo pipefail
cd "$(dirname "$0")/.."

need() {
  command -v "$1" >/dev/null && return
  echo "attack.sh: installing $2 (Debian package)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need haproxy haproxy
need nghttpx nghttp2-proxy
make -s strait
go build -o bin/demo-backend ./examples/backend
go build -o bin/tools/attackbench ./bench/attackbench
echo "haproxy: $(haproxy -v | head -1); nghttpx: $(nghttpx --version | head -1); $(nproc) cores" >&2
exec bin/tools/attackbench "$@"
