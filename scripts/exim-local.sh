#!/bin/sh
# exim-local.sh - Debian's Exim 4 for the e2e tests, run from a directory
# instead of installed.
#   scripts/exim-local.sh [DIR]     (default /var/cache/gw-tests/exim4)
# Debian's exim4 packages conflict with postfix, which the tests also
# drive, so exim4-daemon-light is fetched with apt-get download and
# unpacked into DIR; tests run DIR/usr/sbin/exim4 -C with a configuration
# of their own (tests/e2e/exim_instance.py).  The binary looks up its
# compiled-in user, Debian-exim, when it starts: made here if missing.
# Its libraries are Debian packages deps.sh installs (libidn12 & co).
set -eu
dir=${1:-/var/cache/gw-tests/exim4}
exim="$dir/usr/sbin/exim4"

if [ -x "$exim" ] && getent passwd Debian-exim >/dev/null; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "exim-local.sh: $exim or user Debian-exim missing; run as root" >&2
	exit 77
fi
if ! getent passwd Debian-exim >/dev/null; then
	useradd --system --user-group --home-dir /nonexistent \
	    --no-create-home --shell /usr/sbin/nologin Debian-exim
fi
if [ ! -x "$exim" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	chown _apt "$tmp" 2>/dev/null || true    # apt-get download's sandbox user
	(cd "$tmp" && apt-get download -q exim4-daemon-light >/dev/null)
	mkdir -p "$dir"
	dpkg -x "$tmp"/exim4-daemon-light_*.deb "$dir"
fi
if ! "$exim" -C /dev/null -bV >/dev/null 2>&1; then
	echo "exim-local.sh: $exim does not run:" >&2
	"$exim" -C /dev/null -bV >&2 || true
	ldd "$exim" | grep 'not found' >&2 || true
	exit 1
fi
echo "exim-local.sh: $("$exim" -C /dev/null -bV 2>/dev/null | sed -n 's/ #.*//;1p') in $dir"
