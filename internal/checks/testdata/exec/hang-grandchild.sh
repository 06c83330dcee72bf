#!/bin/sh
# Hangs, and so does a grandchild holding the output: the deadline kills
# both (the group), not only the direct child.
echo $$ > "$PIDFILE"
sh -c 'sleep 600' &
sleep 600
