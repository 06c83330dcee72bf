#!/usr/bin/env bash
# Celery for the celery and process checks' tests: Debian's python3-celery
# (run as /usr/bin/python3 -m celery) and a RabbitMQ vhost of our own,
# healthd_test, so test workers never meet real ones. Needs RabbitMQ running,
# and celery.sh sorts before rabbitmq.sh, so it runs that first (idempotent).
set -euo pipefail
bash "$(dirname "$0")/rabbitmq.sh"
apt_install python3-celery
if ! rabbitmqctl -q list_vhosts 2>/dev/null | grep -qx healthd_test; then
	rabbitmqctl -q add_vhost healthd_test >/dev/null
fi
if ! rabbitmqctl -q list_user_permissions guest 2>/dev/null | grep -q '^healthd_test[[:space:]]'; then
	rabbitmqctl -q set_permissions -p healthd_test guest '.*' '.*' '.*' >/dev/null
fi
