#!/bin/sh
# Installs Debian's chromium for the status-page browser test
# (admin/browser_test.go, cmd/strait/status_live_test.go). Does nothing
# when it is already there.
set -eu
if [ -x /usr/bin/chromium ]; then
	exit 0
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
