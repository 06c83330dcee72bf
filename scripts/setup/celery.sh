#!/usr/bin/env bash
# Celery for the celery and process checks' tests: Debian's python3-celery
# (run as /usr/bin/python3 -m celery) and a RabbitMQ vhost of our own,
# healthd_test, so test workers never meet real ones. Needs RabbitMQ running,
# and celery.sh sorts before rabbitmq.sh, so it runs that first (idempotent).
set -euo pipefail
bash "$(dirname "$0")/rabbitmq.sh"
apt_install python3-celery
# healthd_bench is make bench's own, so a bench worker never answers a test.
for vhost in healthd_test healthd_bench; do
	if ! rabbitmqctl -q list_vhosts 2>/dev/null | grep -qx "$vhost"; then
		rabbitmqctl -q add_vhost "$vhost" >/dev/null
	fi
	if ! rabbitmqctl -q list_user_permissions guest 2>/dev/null | grep -q "^$vhost[[:space:]]"; then
		rabbitmqctl -q set_permissions -p "$vhost" guest '.*' '.*' '.*' >/dev/null
	fi
done
