#!/usr/bin/env bash
# Builds (once) the kube-apiserver and etcd binaries that the Kubernetes
# discovery tests run, through the Go module proxy, and caches them by
# version outside the repository. Prints the paths of both binaries.
#
# No control plane is packaged for the build machines, and `go install`
# refuses modules with replace directives, so each binary is built inside a
# throw-away module that requires it.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.7.3}"
CACHE="${STRAIT_BIN_CACHE:-$HOME/.cache/strait/bin}"
mkdir -p "$CACHE"

apiserver="$CACHE/kube-apiserver-$K8S_VERSION"
etcd="$CACHE/etcd-$ETCD_VERSION"

scratch() {
	local dir
	dir="$(mktemp -d)"
	trap 'rm -rf "$dir"' RETURN
	"$@" "$dir"
}

# The staging modules (k8s.io/api, client-go, ...) are required at v0.0.0 by
# k8s.io/kubernetes and resolved through its own replace block, which a
# dependent module does not inherit: every one is replaced with v0.<minor>.
build_apiserver() {
	local dir="$1" gomod staging
	cd "$dir"
	go mod init strait.local/kube-apiserver >/dev/null 2>&1
	gomod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
	staging="v0${K8S_VERSION#v1}"
	go mod edit -require="k8s.io/kubernetes@$K8S_VERSION"
	awk '/^replace \(/{inblock=1; next} inblock && /^\)/{inblock=0} inblock && $1 ~ /^k8s.io\// {print $1}' "$gomod" |
		while read -r mod; do
			go mod edit -replace="$mod=$mod@$staging"
		done
	go mod edit -go="$(go env GOVERSION | sed 's/^go//')"
	cat >tools.go <<'GO'
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
GO
	go mod tidy -e >/dev/null 2>&1 || true
	CGO_ENABLED=0 go build -trimpath -o "$apiserver.tmp" \
		-ldflags "-X k8s.io/component-base/version.gitVersion=$K8S_VERSION" \
		k8s.io/kubernetes/cmd/kube-apiserver
	mv "$apiserver.tmp" "$apiserver"
}

build_etcd() {
	local dir="$1"
	cd "$dir"
	go mod init strait.local/etcd >/dev/null 2>&1
	go mod edit -go="$(go env GOVERSION | sed 's/^go//')"
	cat >tools.go <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
	go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null
	go mod tidy -e >/dev/null 2>&1 || true
	CGO_ENABLED=0 go build -trimpath -o "$etcd.tmp" go.etcd.io/etcd/server/v3
	mv "$etcd.tmp" "$etcd"
}

if [ ! -x "$etcd" ]; then
	echo "building etcd $ETCD_VERSION into $etcd" >&2
	(scratch build_etcd)
fi
if [ ! -x "$apiserver" ]; then
	echo "building kube-apiserver $K8S_VERSION into $apiserver" >&2
	(scratch build_apiserver)
fi
echo "$apiserver"
echo "$etcd"
