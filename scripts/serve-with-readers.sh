#!/bin/sh
# usage: scripts/serve-with-readers.sh SMOLFS TAP
#
# smolfs serve on TAP (192.168.69.1, 02:00:00:00:00:01) with one frames and
# one frames.pcap reader attached over 9P, reading as fast as they can: the
# netbench target for "the same with readers" (see scripts/bench.sh). The
# readers are children of this script, so their CPU counts with the server's.
# It runs until it is signalled; SIGTERM ends the server and the readers.
set -eu
[ $# -eq 2 ] || { echo "usage: scripts/serve-with-readers.sh SMOLFS TAP" >&2; exit 2; }
bin=$1 tap=$2
# On SIGTERM or SIGINT, end the children by pid and wait for them. (kill 0
# would signal this shell too, whose trap would run again: dash recursed
# until it crashed.)
pids=
stop() {
	trap - TERM INT
	[ -z "$pids" ] || kill $pids 2>/dev/null || true
	wait
	exit "${1:-0}"
}
trap stop TERM INT
"$bin" serve -host "$tap",ea=02:00:00:00:00:01,ip=192.168.69.1/24 &
pids=$!
i=0
until "$bin" 9p ls "$tap" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -gt 3000 ] && { echo "serve-with-readers.sh: the server did not come up within a minute" >&2; stop 1; }
	sleep 0.02
done
"$bin" 9p read "$tap"/frames >/dev/null &
pids="$pids $!"
"$bin" 9p read "$tap"/frames.pcap >/dev/null &
pids="$pids $!"
wait
