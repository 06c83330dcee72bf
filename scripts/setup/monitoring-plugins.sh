#!/usr/bin/env bash
# For the exec check's tests: real Nagios plugins (check_tcp, check_http,
# check_pgsql, check_disk in /usr/lib/nagios/plugins) run against loopback
# servers the tests start, and Django with its PostgreSQL driver for the
# readiness gates (manage.py migrate --check, check --deploy) run against a
# database the test creates on the machine's PostgreSQL. Debian's python3 is
# /usr/bin/python3 (a pyenv or venv python3 earlier in PATH lacks these).
set -euo pipefail
apt_install monitoring-plugins-basic monitoring-plugins-standard python3-django python3-psycopg2
for p in check_tcp check_http check_pgsql check_disk; do
	[ -x "/usr/lib/nagios/plugins/$p" ] || { echo "setup: monitoring-plugins: $p not found after install" >&2; exit 1; }
done
/usr/bin/python3 -c 'import django, psycopg2' || { echo "setup: monitoring-plugins: /usr/bin/python3 cannot import django and psycopg2" >&2; exit 1; }
