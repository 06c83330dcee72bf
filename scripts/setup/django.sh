#!/usr/bin/env bash
# Django and django-health-check 3.x from Debian's packages, for the system
# Python (/usr/bin/python3): test/django runs a real Django project with
# django-health-check beside healthd and compares their answers, and the exec
# check's tests run Django's migrate --check.
set -euo pipefail
apt_install python3-django python3-django-health-check python3-pymemcache python3-psutil python3-psycopg2 python3-redis python3-kombu
/usr/bin/python3 -c 'import django, health_check, pymemcache, psutil, psycopg2, redis, kombu' \
	|| { echo "setup: django: the system Python cannot import Django and django-health-check" >&2; exit 1; }
