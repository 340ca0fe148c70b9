#!/bin/sh
# exim-local.sh - Debian's Exim 4 for the e2e tests, run from a directory
# instead of installed.
#   scripts/exim-local.sh [DIR]     (default /var/cache/gw-tests/exim4)
# Debian's exim4 packages conflict with postfix, which the tests also
# drive, so exim4-daemon-light (the binary), exim4-base
# (update-exim4.conf) and exim4-config (Debian's configuration and its
# templates) are fetched with apt-get download and unpacked into DIR;
# tests run DIR/usr/sbin/exim4 -C with a configuration of their own
# (tests/e2e/exim_instance.py).  The binary looks up its compiled-in
# user, Debian-exim, when it starts: made here if missing.
# Its libraries are Debian packages deps.sh installs (libidn12 & co).
set -eu
dir=${1:-/var/cache/gw-tests/exim4}
exim="$dir/usr/sbin/exim4"

pkgs="exim4-daemon-light exim4-base exim4-config"
have() {
	[ -x "$exim" ] && [ -x "$dir/usr/sbin/update-exim4.conf" ] &&
	    [ -f "$dir/etc/exim4/exim4.conf.template" ]
}

if have && getent passwd Debian-exim >/dev/null; then
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
if ! have; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	chown _apt "$tmp" 2>/dev/null || true    # apt-get download's sandbox user
	# shellcheck disable=SC2086
	(cd "$tmp" && apt-get download -q $pkgs >/dev/null)
	mkdir -p "$dir"
	for p in $pkgs; do
		dpkg -x "$tmp/${p}"_*.deb "$dir"
	done
fi
if ! "$exim" -C /dev/null -bV >/dev/null 2>&1; then
	echo "exim-local.sh: $exim does not run:" >&2
	"$exim" -C /dev/null -bV >&2 || true
	ldd "$exim" | grep 'not found' >&2 || true
	exit 1
fi
echo "exim-local.sh: $("$exim" -C /dev/null -bV 2>/dev/null | sed -n 's/ #.*//;1p') in $dir"
