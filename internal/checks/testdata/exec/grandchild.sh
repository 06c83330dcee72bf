#!/bin/sh
# Answers at once, but leaves a grandchild holding the standard output open
# and sleeping: the check must not wait for the pipe's end, and must not
# leave the grandchild running.
echo $$ > "$PIDFILE"
echo "OK - answered, a child keeps stdout"
sleep 600 &
sh -c 'sleep 600' &
exit 0
