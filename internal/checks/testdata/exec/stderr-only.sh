#!/bin/sh
# Says nothing on stdout; its error is the last line of stderr (a Python
# traceback's last line, say).
echo "Traceback (most recent call last):" >&2
echo "  File \"check.py\", line 3" >&2
echo "ConnectionError: cannot reach the queue" >&2
exit 2
