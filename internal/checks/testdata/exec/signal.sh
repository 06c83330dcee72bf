#!/bin/sh
# Dies on a signal after saying something.
echo $$ > "$PIDFILE"
echo "about to crash"
kill -SEGV $$
