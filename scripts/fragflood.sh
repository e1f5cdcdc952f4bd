#!/usr/bin/env bash
# usage: scripts/fragflood.sh [SECONDS]
#
# Holds smolfs serve's IPv4 reassembly to its bounds under a flood of
# fragments that never complete (internal/cmd/fragflood: middle fragments
# of 1480 bytes, 16 per datagram, as fast as the tap takes them) for SECONDS
# (default 10), in a network namespace of its own. Needs root and iproute2.
#
# It checks that the server's RSS (VmRSS, sampled every 0.1 s) never rises
# more than 1 MiB above the reassembly bound (netcore.MaxReassemblyBytes,
# 1 MiB) over what it was before the flood, that the bounds were reached
# (ipv4_rx_frag_no_room counts fragments), and that the host answers a ping
# and a 3000-byte ping after. It prints the figures.
#
# Everything it makes (namespace, processes, temporary files) goes when it
# exits, however it exits.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: scripts/fragflood.sh [SECONDS]" >&2; }
case "${1:-10}" in
-h | --help)
	sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
'' | *[!0-9]*)
	usage
	exit 2
	;;
esac
secs=${1:-10}
[ $# -le 1 ] || { usage; exit 2; }

die() {
	echo "fragflood.sh: $*" >&2
	exit 1
}
[ "$(id -u)" = 0 ] || die "needs root for the network namespace and the tap device: sudo $0 $secs"
for tool in ip ping timeout; do
	command -v $tool >/dev/null || die "$tool not found (apt-get install iproute2 iputils-ping coreutils)"
done

readonly bound_kb=1024 # netcore.MaxReassemblyBytes
readonly slack_kb=1024 # what the brief allows above it

# scripts/test.sh's run marker in the name tells its leftovers from others'.
ns=smolfs-fragflood-${SMOLFS_TEST_RUN:+$SMOLFS_TEST_RUN-}$$
work=$(mktemp -d /tmp/smolfs-fragflood.XXXXXX)
# Background processes are started with ip netns exec itself, which execs
# in place: $! is the process (through nsx, a function, it would be a
# subshell, and a kill would miss the process).
srv=""
flood=""
cleanup() {
	local status=$?
	set +e
	if [ -n "$flood" ]; then
		kill "$flood" 2>/dev/null
		wait "$flood" 2>/dev/null
	fi
	if [ -n "$srv" ] && kill -0 "$srv" 2>/dev/null; then
		kill "$srv"
		for _ in $(seq 50); do kill -0 "$srv" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$srv" 2>/dev/null
	fi
	wait 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$work"
	exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

waitfor() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}

go build -o "$work/smolfs" ./cmd/smolfs
go build -o "$work/fragflood" ./internal/cmd/fragflood
bin=$work/smolfs

nsx() { ip netns exec "$ns" "$@"; }
ip netns add "$ns"
nsx ip link set lo up
nsx sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
ip netns exec "$ns" "$bin" serve -debug 127.0.0.1:6060 -host tap0,ea=02:00:00:00:00:01,ip=192.168.69.1/24 2>"$work/serve.log" &
srv=$!
# The bounds on waits for what must happen (the server gets ready, answers
# a 9P read or a ping) only end a run that would otherwise hang: a minute,
# which no load on the machine reaches.
waitfor 60 grep -q 'msg=ready' "$work/serve.log" || { cat "$work/serve.log" >&2; die "smolfs serve did not get ready"; }
nsx ip addr add 192.168.69.100/24 dev tap0
nsx ip link set tap0 up

stats() { timeout 60 ip netns exec "$ns" "$bin" 9p read tap0/stats; }
stat_value() { stats | awk -v n="$1" '$1 == n { print $2 }'; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$srv/status"; }
debug() { nsx timeout 60 bash -c "exec 3<>/dev/tcp/127.0.0.1/6060 && echo '$1' >&3 && cat <&3"; }

# Warm: the paths a ping takes have run, and the free memory has gone back.
nsx ping -c 3 -i 0.2 -w 60 -q 192.168.69.1 >/dev/null || die "no ping before the flood"
nsx ping -c 2 -i 0.2 -w 60 -q -s 3000 192.168.69.1 >/dev/null || die "no 3000-byte ping before the flood"
debug free >/dev/null
before=$(rss_kb)

ip netns exec "$ns" "$work/fragflood" -i tap0 -duration "${secs}s" >"$work/flood.out" &
flood=$!
peak=$before
while kill -0 $flood 2>/dev/null; do
	r=$(rss_kb)
	[ "$r" -gt "$peak" ] && peak=$r
	sleep 0.1
done
wait $flood || die "fragflood failed: $(cat "$work/flood.out")"
flood=""
r=$(rss_kb)
[ "$r" -gt "$peak" ] && peak=$r

held=$(stat_value ipv4_rx_fragment)
noroom=$(stat_value ipv4_rx_frag_no_room)
echo "flood: $(cat "$work/flood.out")"
echo "fragments held $held, dropped for want of room $noroom"
echo "rss before ${before} kB, peak ${peak} kB: +$((peak - before)) kB (bound ${bound_kb} kB + ${slack_kb} kB)"

status=0
if [ "$((peak - before))" -gt "$((bound_kb + slack_kb))" ]; then
	echo "FAIL: RSS rose $((peak - before)) kB" >&2
	status=1
fi
if [ "${noroom:-0}" -eq 0 ]; then
	echo "FAIL: the flood never reached the bounds" >&2
	status=1
fi
nsx ping -c 3 -i 0.2 -w 60 -q 192.168.69.1 >/dev/null || { echo "FAIL: no ping after the flood" >&2; status=1; }
exit $status
