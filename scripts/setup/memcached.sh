#!/usr/bin/env bash
# memcached for the memcached check's tests. Only the binary is needed: the
# tests start their own `memcached -l 127.0.0.1 -p PORT` processes on free
# ports, and never use (or need) the system service.
set -euo pipefail
apt_install memcached
command -v memcached >/dev/null || { echo "setup: memcached: binary not found after install" >&2; exit 1; }
