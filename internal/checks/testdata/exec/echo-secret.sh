#!/bin/sh
# A careless plugin that repeats its credential.
echo "CRITICAL - login failed with password $PASSWORD for user monitor"
echo "stderr says $PASSWORD too" >&2
exit 2
