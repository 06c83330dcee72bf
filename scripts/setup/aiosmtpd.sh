#!/usr/bin/env bash
# aiosmtpd for the smtp check's tests (and the tls check's STARTTLS ones):
# each test starts its own `/usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:PORT`, or
# internal/checks/testdata/smtp/server.py for STARTTLS and AUTH. Nothing is
# delivered: the server only answers the dialogue the check holds. Debian's
# python3 (/usr/bin/python3), not whatever python3 comes first on PATH.
set -euo pipefail
apt_install python3-aiosmtpd
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || { echo "setup: aiosmtpd: /usr/bin/python3 cannot import it after install" >&2; exit 1; }
