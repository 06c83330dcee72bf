#!/usr/bin/env bash
# amtool from Debian's prometheus-alertmanager package: deploy/'s fleet test
# runs `amtool check-config` on deploy/alertmanager/alertmanager.yml and
# `amtool config routes test` on its routes. Only the tool is used; the
# package's Alertmanager is not started.
set -euo pipefail
apt_install prometheus-alertmanager
command -v amtool >/dev/null || { echo "setup: amtool: not found after installing prometheus-alertmanager" >&2; exit 1; }
