#!/bin/sh
# deps.sh - install the Debian 12 packages gw needs, only those missing.
#   scripts/deps.sh build   what building needs
#   scripts/deps.sh test    that, plus every tool the tests drive
#   scripts/deps.sh bench   that, plus what bench/ needs
# test and bench also unpack Debian's Exim for the tests, beside the
# system (scripts/exim-local.sh): its packages conflict with postfix.
set -eu

build="build-essential pkg-config libssl-dev libsqlite3-dev libconfig-dev
libncurses-dev libedit-dev libcmocka-dev libidn2-dev openssl ca-certificates
libgmime-3.0-dev libhyperscan-dev libmagic-dev libmicrohttpd-dev
libcurl4-openssl-dev libpsl-dev libjansson-dev libhiredis-dev zlib1g-dev libgnutls28-dev
libseccomp-dev"
# libidn12 ...: what exim-local.sh's Exim links beyond postfix's libraries.
# prometheus: its promtool lints gwd's /metrics (tests/e2e/test_metrics.py).
# zip: encrypted archives for the attachment rules (test_quarantine.py).
# faketime: gwd on other days, for the archive's day files and their
# retention (tests/e2e/test_archive.py).
# haproxy: in front of gwd with the PROXY protocol
# (tests/e2e/test_proxy_protocol.py, examples/haproxy.cfg).
# unbound, ldnsutils: a validating resolver and a signed zone for DANE
# (tests/e2e/test_dane.py).
# nmap: its smtp-open-relay script against the feedback listener
# (tests/e2e/test_feedback.py).
# systemd: systemd-analyze rates examples/gwd.service (test_unit_file.py).
# redis-server: the cluster's shared state (tests/e2e/test_cluster.py,
# bench/relay --cluster).
test="python3 python3-pytest python3-pytest-xdist python3-aiosmtpd python3-dnslib swaks zip
libnet-ssleay-perl curl postfix libsasl2-modules sqlite3 clang-14
libfuzzer-14-dev libclang-rt-14-dev mandoc tmux procps iproute2
python3-dkim python3-nacl libmail-dkim-perl libnet-dns-perl opendkim-tools
util-linux fiu-utils bash-completion prometheus socat strace haproxy
node-nodemailer systemd unbound ldnsutils rspamd redis-server nmap faketime
libidn12 libgnutls-dane0 libnsl2"
# wrk: bench/api's HTTP load generator (with bench/api.lua).
bench="$test opendkim sasl2-bin libsasl2-modules wrk"

case "${1:-build}" in
build) want="$build" ;;
test) want="$build $test" ;;
bench) want="$build $bench" ;;
*) echo "usage: $0 build|test|bench" >&2; exit 64 ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps.sh: missing packages:$missing" >&2
		echo "deps.sh: run as root (or: sudo apt-get install$missing)" >&2
		exit 77
	fi
	echo "deps.sh: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	# Postfix is a test peer, never the system's MTA here: no configuration.
	echo "postfix postfix/main_mailer_type select No configuration" |
	    debconf-set-selections
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# The tests' Exim (needs root, as the tests that run it do: they skip
# without it).
if [ "${1:-build}" != build ] && [ "$(id -u)" = 0 ]; then
	exec "$(dirname "$0")/exim-local.sh"
fi
