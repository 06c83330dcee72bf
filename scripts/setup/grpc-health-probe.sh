#!/usr/bin/env bash
# grpc-health-probe, the client Kubernetes users run against gRPC health
# services: the daemon tests run it against healthd's server.grpc_listen.
# Built from the Go module proxy; skipped when the pinned version is built.
set -euo pipefail
GRPC_HEALTH_PROBE_VERSION=v0.4.63
: "${HEALTHD_CACHE:=$(cd "$(dirname "$0")/../.." && pwd)/.cache}"
bin="$HEALTHD_CACHE/bin/grpc-health-probe"
stamp="$HEALTHD_CACHE/bin/.grpc-health-probe-version"
if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$GRPC_HEALTH_PROBE_VERSION" ]; then
	exit 0
fi
echo "setup: building grpc-health-probe $GRPC_HEALTH_PROBE_VERSION"
mkdir -p "$HEALTHD_CACHE/bin"
GOBIN="$HEALTHD_CACHE/bin" go install "github.com/grpc-ecosystem/grpc-health-probe@$GRPC_HEALTH_PROBE_VERSION"
echo "$GRPC_HEALTH_PROBE_VERSION" >"$stamp"
