#!/bin/sh
# Writes 10 MB after its message: the check keeps only its output cap.
echo "OK - flooding | bytes=10485760B;;;0"
head -c 10485760 /dev/zero
exit 0
