#!/bin/sh
# Prints its environment's size and a variable, to test env and inherit_env.
echo "OK - GREETING=${GREETING:-unset} HOME=${HOME:-unset} PATH=$PATH pwd=$(pwd)"
