#!/usr/bin/env bash
# Install Debian's chromium for the report test (tests/test_report.py loads the report page in headless
# chromium). Idempotent and quiet: nothing happens when chromium is already there.
set -euo pipefail

log() { printf '[browser-setup] %s\n' "$*"; }

if command -v chromium >/dev/null; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  log "chromium is missing and installing it needs root; the report's browser test will skip"; exit 0
fi
log "installing chromium"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
