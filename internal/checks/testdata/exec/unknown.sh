#!/bin/sh
# A plugin that cannot tell: exit 3 is UNKNOWN in the Nagios protocol.
echo "UNKNOWN - cannot read /var/lib/thing: permission denied"
exit 3
