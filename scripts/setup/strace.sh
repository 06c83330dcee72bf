#!/usr/bin/env bash
# strace: the test that `healthd validate` opens no socket traces its system calls.
set -euo pipefail
apt_install strace
