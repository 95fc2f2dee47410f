#!/usr/bin/env bash
# The report tests (report/, cmd/tune) open the HTML reports in a real
# headless browser: Debian's Chromium. Installs it when it is missing.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
chromium --version
