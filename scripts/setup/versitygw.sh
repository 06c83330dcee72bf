#!/usr/bin/env bash
# Builds versitygw, an S3-compatible gateway, for the s3 check's tests. The
# tests start their own instance (posix backend, temp dir, loopback port).
# Skipped when the pinned version is already built.
set -euo pipefail
VERSITYGW_VERSION=v1.8.0
: "${HEALTHD_CACHE:=$(cd "$(dirname "$0")/../.." && pwd)/.cache}"
bin="$HEALTHD_CACHE/bin/versitygw"
stamp="$HEALTHD_CACHE/bin/.versitygw-version"
if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$VERSITYGW_VERSION" ]; then
	exit 0
fi
echo "setup: building versitygw $VERSITYGW_VERSION"
mkdir -p "$HEALTHD_CACHE/bin"
GOBIN="$HEALTHD_CACHE/bin" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
echo "$VERSITYGW_VERSION" >"$stamp"
