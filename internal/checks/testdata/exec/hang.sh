#!/bin/sh
# Never answers: the check's deadline must kill it. PIDFILE gets the pid
# (the process group's id), for the test to look for leftovers.
echo $$ > "$PIDFILE"
echo "started"
sleep 600
