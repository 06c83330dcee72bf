#!/usr/bin/env bash
# RabbitMQ for the rabbitmq and celery checks' tests: the machine's server on
# 127.0.0.1:5672 (guest/guest). Installs it when missing, starts it when stopped.
set -euo pipefail
apt_install rabbitmq-server
if ! rabbitmqctl -q status >/dev/null 2>&1; then
	echo "setup: starting rabbitmq-server"
	rabbitmq-server -detached >/dev/null 2>&1 || true
	if ! timeout 120 rabbitmqctl -q await_startup --timeout 110 >/dev/null 2>&1; then
		echo "setup: rabbitmq-server did not start" >&2
		exit 1
	fi
fi
