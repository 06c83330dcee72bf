#!/usr/bin/env bash
# Redis for the redis check's tests: the machine's server on 127.0.0.1:6379
# must answer PING, and redis-server must exist so tests can start their own
# instances (with --requirepass) on free ports.
set -euo pipefail
apt_install redis-server redis-tools
if [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" != "PONG" ]; then
	echo "setup: starting redis-server on 127.0.0.1:6379"
	mkdir -p /var/lib/redis /var/log/redis
	redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
		--dir /var/lib/redis --logfile /var/log/redis/ci.log
	for _ in $(seq 1 50); do
		[ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ] && exit 0
		sleep 0.1
	done
	echo "setup: redis: 127.0.0.1:6379 does not answer PING" >&2
	exit 1
fi
