#!/usr/bin/env bash
# The strict OpenMetrics parser of Debian's python3-prometheus-client
# (prometheus_client.openmetrics.parser): internal/server's tests parse
# /metrics and /ht/?format=openmetrics with it, under /usr/bin/python3, the
# interpreter that sees Debian's dist-packages.
set -euo pipefail
apt_install python3-prometheus-client
/usr/bin/python3 -c 'import prometheus_client.openmetrics.parser' ||
	{ echo "setup: python3-prometheus-client: the OpenMetrics parser does not import" >&2; exit 1; }
