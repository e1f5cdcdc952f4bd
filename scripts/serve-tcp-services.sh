#!/bin/sh
# usage: scripts/serve-tcp-services.sh SMOLFS TAP [SERVE FLAGS...]
#
# smolfs serve on TAP (192.168.69.1, 02:00:00:00:00:01) with RFC 862 echo on
# TCP port 7 and RFC 863 discard on port 9, each served by a `smolfs listen
# -service` through the tree (9P), as a user would serve them: the netbench
# target for its TCP tests (see scripts/bench.sh), whose figures thus
# include the delivery of every byte through 9P to a consumer. The
# listeners are children of this script, so their CPU counts with the
# server's. It runs until it is signalled; SIGTERM ends all three.
set -eu
[ $# -ge 2 ] || { echo "usage: scripts/serve-tcp-services.sh SMOLFS TAP [SERVE FLAGS...]" >&2; exit 2; }
bin=$1 tap=$2
shift 2
trap 'kill 0' TERM INT
"$bin" serve -host "$tap",ea=02:00:00:00:00:01,ip=192.168.69.1/24 "$@" &
i=0
until "$bin" 9p ls "$tap" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -gt 500 ] && { echo "serve-tcp-services.sh: the server did not come up" >&2; exit 1; }
	sleep 0.02
done
"$bin" listen -quiet -service echo 'tcp!*!7' &
"$bin" listen -quiet -service discard 'tcp!*!9' &
wait
