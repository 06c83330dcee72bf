#!/usr/bin/env bash
# promtool from Debian's prometheus package: internal/metrics' tests run
# `promtool check rules` and `promtool test rules` on deploy/prometheus/, and
# `promtool check metrics` on /metrics. Only the tool is used; the package's
# Prometheus server is not started (policy-rc.d may refuse it, which is fine).
set -euo pipefail
apt_install prometheus
command -v promtool >/dev/null || { echo "setup: promtool: not found after installing prometheus" >&2; exit 1; }
