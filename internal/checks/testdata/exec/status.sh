#!/bin/sh
# Exits with the status given as its first argument, after a Nagios-style
# line with perfdata on the first line and on the long output.
echo "STATUS $1 - queue has 42 jobs | 'queue length'=42;100;200;0; latency=0.250s;1;2;0"
echo "worker-1 idle"
echo "worker-2 busy | load=87.5%;90;95;0;100"
echo "free=1.5GB;;;0"
exit "$1"
