#!/bin/sh
# Installs the Go tools the tests run into bin/tools, at pinned versions,
# only when missing: h2spec for the relay's HTTP/2 conformance test.
set -eu
cd "$(dirname "$0")/.."
TOOLS=$PWD/bin/tools
H2SPEC_VERSION=v2.2.1+incompatible
if ! go version -m "$TOOLS/h2spec" 2>/dev/null | grep -q "$H2SPEC_VERSION"; then
	GOBIN=$TOOLS go install "github.com/summerwind/h2spec/cmd/h2spec@$H2SPEC_VERSION"
fi
echo "$TOOLS/h2spec"
