#!/usr/bin/env bash
# PostgreSQL for the postgres check's tests: the machine's cluster on
# 127.0.0.1:5432 (trust auth) must be running, and initdb/pg_ctl must exist so
# tests can start their own password-protected instance on a free port.
set -euo pipefail
apt_install postgresql postgresql-client
ver=$(ls /etc/postgresql | sort -V | tail -n1)
if [ -z "$ver" ] || [ ! -x "/usr/lib/postgresql/$ver/bin/initdb" ]; then
	echo "setup: postgres: no initdb under /usr/lib/postgresql/$ver/bin" >&2
	exit 1
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432 -t 2; then
	echo "setup: starting PostgreSQL $ver main"
	pg_ctlcluster --skip-systemctl-redirect "$ver" main start
	for _ in $(seq 1 50); do
		pg_isready -q -h 127.0.0.1 -p 5432 -t 1 && exit 0
		sleep 0.2
	done
	echo "setup: postgres: 127.0.0.1:5432 is not accepting connections" >&2
	exit 1
fi
