#!/usr/bin/env bash
# MariaDB for the mysql check's tests: the machine's server on 127.0.0.1:3306
# (root with no password over TCP, database test) must answer, and
# mariadb-install-db/mariadbd must exist so tests can start their own
# password-protected instances (and replicas) on free ports.
set -euo pipefail
apt_install mariadb-server mariadb-client
ping_root() { mariadb --protocol=tcp -h 127.0.0.1 -P 3306 -u root -e 'SELECT 1' test >/dev/null 2>&1; }
ping_root && exit 0
if ! mariadb-admin --protocol=socket ping >/dev/null 2>&1; then
	echo "setup: starting MariaDB on 127.0.0.1:3306"
	mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
	(mariadbd-safe --bind-address=127.0.0.1 --port=3306 >/dev/null 2>&1 &)
	for _ in $(seq 1 100); do
		mariadb-admin --protocol=socket ping >/dev/null 2>&1 && break
		sleep 0.2
	done
fi
ping_root && exit 0
# A fresh install: root logs in by the unix socket only. Give the tests
# root over TCP from 127.0.0.1 without a password, and the test database.
echo "setup: MariaDB: root@127.0.0.1 without password, database test"
mariadb --protocol=socket -u root -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
	GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
	CREATE DATABASE IF NOT EXISTS test;"
ping_root || { echo "setup: mariadb: 127.0.0.1:3306 does not accept root" >&2; exit 1; }
