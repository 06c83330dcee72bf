#!/usr/bin/env bash
# dnsmasq for the dns check's tests: each test starts its own
# `dnsmasq --no-daemon --port=N --listen-address=127.0.0.1` with its own
# records. dnsmasq-base is the binary alone, without the system service
# (which would take port 53).
set -euo pipefail
apt_install dnsmasq-base
command -v dnsmasq >/dev/null || [ -x /usr/sbin/dnsmasq ] || { echo "setup: dnsmasq: binary not found after install" >&2; exit 1; }
