#!/bin/sh
# Appends its pid to PIDLOG and sleeps a little: the runner's single flight
# must keep one of these running at a time.
echo $$ >> "$PIDLOG"
sleep 0.3
echo "OK - ran"
