#!/usr/bin/env bash
# Makes the real servers the tests need available on this machine: installs
# what is missing from Debian's packages or the Go module proxy, and starts
# services that are stopped. Idempotent and quiet when all is in place.
# Each scripts/setup/*.sh handles one dependency; a failure stops make test.
set -euo pipefail
cd "$(dirname "$0")/.."
export HEALTHD_CACHE="${HEALTHD_CACHE:-$PWD/.cache}"
mkdir -p "$HEALTHD_CACHE/bin"

# apt_install PKG... installs the Debian packages that are not installed yet.
apt_install() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "setup: installing ${missing[*]}"
	if [ ! -f "$HEALTHD_CACHE/.apt-updated" ]; then
		apt-get update -qq && touch "$HEALTHD_CACHE/.apt-updated"
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
export -f apt_install

for s in scripts/setup/*.sh; do
	[ -e "$s" ] || continue
	bash "$s"
done
