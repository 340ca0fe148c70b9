#!/bin/sh
# demo.sh - install what is needed, build, and start gwd in the
# foreground on its embedded default: state in ./gw-demo, a self-signed
# certificate made on first start, listeners on 127.0.0.1, and a demo
# subaccount whose credentials are printed.  Ctrl-C stops it.
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
set -- $ports
if [ ! -f "$demo/gwd.conf" ]; then
	cat >"$demo/gwd.conf" <<CONF
# gw demo configuration (made by scripts/demo.sh); every setting is
# described in examples/gwd.conf and gwd.conf(5).
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
    password: $pw
    STARTTLS: 127.0.0.1:$1 and 127.0.0.1:$3    implicit TLS: 127.0.0.1:$2

  e.g. swaks --server 127.0.0.1:$1 --tls --auth-user demo \\
         --auth-password '$pw' --from app@example.com --to you@example.org

  Audit log:  build/gwsearch -c $demo/gwd.conf --sender app@example.com
  Dashboard:  build/gwtop -c $demo/gwd.conf

MSG
exec "$top/build/gwd" -c "$demo/gwd.conf"
