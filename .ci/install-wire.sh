#!/usr/bin/env bash
# The wire conformance test (deployer/local) runs a Locust client against
# the emulator; make bench-load runs Locust too. Debian packages it.
set -euo pipefail
if command -v locust >/dev/null && /usr/bin/python3 -c 'import locust, requests' 2>/dev/null; then
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq python3-locust >/dev/null
locust --version
