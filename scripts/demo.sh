#!/bin/sh
# demo.sh - install what is needed, build, and start gwd in the
# foreground on its embedded default: state in ./gw-demo, a self-signed
# certificate made on first start, listeners on 127.0.0.1, and a demo
# subaccount whose credentials are printed.  Ctrl-C stops it.
#
# Ports: 587 465 2525 as root, 2587 2465 2525 otherwise; or
# GW_DEMO_PORTS="STARTTLS IMPLICIT STARTTLS", e.g. "2587 2465 2525".
# Each start gives the demo subaccount a new password.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh build
make -j"$(nproc)" all >/dev/null

top=$(pwd)
demo="$top/gw-demo"
mkdir -p "$demo/state"
if [ "$(id -u)" = 0 ]; then
	ports="587 465 2525"
	# A daemon should not run as root: give it its own system user.
	id gw >/dev/null 2>&1 || useradd --system --no-create-home \
	    --home-dir /var/lib/gw --shell /usr/sbin/nologin gw
	user=gw
	chown gw: "$demo/state"
else
	ports="2587 2465 2525"
	user=""
fi
ports=${GW_DEMO_PORTS:-$ports}
# shellcheck disable=SC2086
set -- $ports
if [ $# -ne 3 ]; then
	echo "demo.sh: GW_DEMO_PORTS needs three ports (STARTTLS, implicit" \
	    "TLS, STARTTLS), e.g. \"2587 2465 2525\"" >&2
	exit 64
fi
# Before any credentials: are the ports free?  (ss from iproute2.)
if command -v ss >/dev/null 2>&1; then
	for p in "$@"; do
		if [ -n "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]; then
			echo "demo.sh: port $p on this machine is taken (another" \
			    "gwd or mail server?); choose others, e.g." \
			    "GW_DEMO_PORTS=\"2587 2465 2525\" $0" >&2
			exit 69
		fi
	done
fi

# Rewritten at each start, so GW_DEMO_PORTS always applies.
cat >"$demo/gwd.conf" <<CONF
# gw demo configuration, rewritten by scripts/demo.sh at each start;
# every setting is described in examples/gwd.conf and gwd.conf(5).
state_dir = "state";
hostname = "gw.localhost";
user = "$user";
control_socket = "state/control";
listen = (
  { address = "127.0.0.1"; port = $1; tls = "starttls"; },
  { address = "127.0.0.1"; port = $2; tls = "implicit"; },
  { address = "127.0.0.1"; port = $3; tls = "starttls"; }
);
tls = {
  certificate = "state/cert.pem";
  key = "state/key.pem";
  self_signed = true;
};
relay = { mode = "mx"; tls = "opportunistic"; };
CONF
# What would stop gwd (a state directory user gw cannot reach, say).
if ! "$top/build/gwd" -n -c "$demo/gwd.conf" >/dev/null; then
	echo "demo.sh: run the demo from a directory user ${user:-$(id -un)}" \
	    "can reach (not under /root), or as a normal user" >&2
	exit 78
fi

# The demo subaccount: created once; its password is reset (and shown)
# on every start so the credentials printed below always work.
gwctl="$top/build/gwctl -c $demo/gwd.conf"
if $gwctl subaccount list --format json 2>/dev/null | grep -q '"name":"demo"'; then
	pw=$($gwctl subaccount passwd demo | sed -n 's/^password: //p')
else
	pw=$($gwctl subaccount add demo --domain example.com |
	    sed -n 's/^password: //p')
fi
cat <<MSG

  gw demo is starting.  Submit mail as subaccount "demo" (sender domain
  example.com) with TLS and AUTH:

    username: demo
    password: $pw    (a new one at each start)
    STARTTLS: 127.0.0.1:$1 and 127.0.0.1:$3    implicit TLS: 127.0.0.1:$2

  e.g. swaks --server 127.0.0.1:$1 --tls --auth-user demo \\
         --auth-password '$pw' --from app@example.com --to you@example.org

  Audit log:  build/gwsearch -c $demo/gwd.conf --sender app@example.com
  Dashboard:  build/gwtop -c $demo/gwd.conf

MSG
exec "$top/build/gwd" -c "$demo/gwd.conf"
