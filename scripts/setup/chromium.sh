#!/usr/bin/env bash
# Chromium from Debian's packages, for the dashboard's browser test
# (internal/server/browser_test.go drives it with chromedp).
set -euo pipefail
apt_install chromium
