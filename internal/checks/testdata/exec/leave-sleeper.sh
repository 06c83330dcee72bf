#!/bin/sh
# Starts a sleeper in the check's process group, holding none of its pipes,
# then becomes the program named by its arguments (same pid, so the same
# group). Whatever that program does, only healthd's group kill, after the
# exit or at the deadline, ends the sleeper: TestExec_NoFaultLeavesAProcessBehind
# looks for it in the group named in PIDFILE.
echo $$ > "$PIDFILE"
sleep 600 </dev/null >/dev/null 2>&1 &
exec "$@"
