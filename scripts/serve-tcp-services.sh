#!/bin/sh
# usage: scripts/serve-tcp-services.sh SMOLFS TAP [SERVE FLAGS...]
#
# smolfs serve on TAP (192.168.69.1, 02:00:00:00:00:01) with RFC 862 echo on
# TCP port 7 and RFC 863 discard on port 9, each served by a `smolfs listen
# -service` through the tree (9P), as a user would serve them: the netbench
# target for its TCP tests (see scripts/bench.sh), whose figures thus
# include the delivery of every byte through 9P to a consumer. 9P goes over
# a unix socket in a directory of its own (made here, removed at the end).
# The listeners are children of this script, so their CPU counts with the
# server's. It runs until it is signalled; SIGTERM ends all three.
set -eu
[ $# -ge 2 ] || { echo "usage: scripts/serve-tcp-services.sh SMOLFS TAP [SERVE FLAGS...]" >&2; exit 2; }
bin=$1 tap=$2
shift 2
dir=$(mktemp -d /tmp/smolfs-services.XXXXXX)
sock=unix:$dir/9p.sock
pids=
stop() {
	kill $pids 2>/dev/null || true
	wait
	rm -rf "$dir"
	exit 0
}
trap stop TERM INT
"$bin" serve -listen "$sock" -host "$tap",ea=02:00:00:00:00:01,ip=192.168.69.1/24 "$@" &
pids=$!
i=0
until "$bin" 9p -addr "$sock" ls "$tap" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -gt 500 ] && { echo "serve-tcp-services.sh: the server did not come up" >&2; stop; }
	sleep 0.02
done
"$bin" listen -addr "$sock" -quiet -service echo 'tcp!*!7' &
pids="$pids $!"
"$bin" listen -addr "$sock" -quiet -service discard 'tcp!*!9' &
pids="$pids $!"
wait
