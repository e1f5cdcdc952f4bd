#!/usr/bin/env bash
# usage: scripts/bench-hosts.sh [-baseline BINARY] [-keep] [COUNT...]
#
# What many hosts cost in one `smolfs serve`, and whether every one of them
# answers. For each COUNT (default: 10 100 1000) it makes a network
# namespace with COUNT persistent taps t0, t1, ..., each on a subnet of its
# own (host i is 10.A.B.1/24 on tap ti, the kernel's side 10.A.B.2/24, with
# A.B = i/256.i%256), starts smolfs serve there with host t0 from -host,
# creates the others with one write of `new` lines to /ctl (smolfs 9p write
# ctl), and reports:
#
#   ctl s       seconds the /ctl write took (every host started)
#   RSS MB      the server's resident memory once every host is up, idle,
#               and again after the ARP and ping below
#   threads     its OS threads (/proc/PID/status), idle and after
#   arp         arping -c 1 from each tap's kernel side: replies / hosts
#   ping        ping -c 1 to each host: replies / hosts
#
# 32 arpings or pings run at a time. The namespace (and its taps) is removed
# after each count. With -baseline, the same runs are made with BINARY (say,
# main's) right after this checkout's, so the two rows of a count come from
# the same machine minutes apart.
#
#   -baseline BIN  also measure BIN
#   -keep          keep the work directory (server logs) and say where
#
# The binary measured is SMOLFS_BIN if set, else this checkout's, built with
# go. Needs root (namespaces, taps), iproute2, ping and arping.
set -euo pipefail
cd "$(dirname "$0")/.."

baseline=""
keep=0
counts=()
usage() {
	echo "usage: scripts/bench-hosts.sh [-baseline BINARY] [-keep] [COUNT...]" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	-baseline)
		[ $# -ge 2 ] || usage
		baseline=$2
		shift 2
		;;
	-keep)
		keep=1
		shift
		;;
	-h | --help)
		sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	-*) usage ;;
	*)
		case $1 in '' | *[!0-9]*) usage ;; esac
		[ "$1" -ge 1 ] && [ "$1" -le 65536 ] || usage
		counts+=("$1")
		shift
		;;
	esac
done
[ ${#counts[@]} -gt 0 ] || counts=(10 100 1000)

die() {
	echo "bench-hosts.sh: $*" >&2
	exit 1
}
[ "$(id -u)" = 0 ] || die "needs root for network namespaces and taps: sudo $0"
for tool in ip ping arping xargs; do
	command -v "$tool" >/dev/null || die "$tool not found (apt-get install iproute2 iputils-ping iputils-arping)"
done
[ -z "$baseline" ] || [ -x "$baseline" ] || die "-baseline $baseline is not an executable"

work=$(mktemp -d /tmp/smolfs-bench-hosts.XXXXXX)
ns=sbhosts-$$
server=""

cleanup() {
	local status=$?
	trap - EXIT INT TERM
	stop_server
	ip netns del "$ns" 2>/dev/null || true
	if [ "$keep" = 1 ]; then
		echo "bench-hosts.sh: work directory $work" >&2
	else
		rm -rf "$work"
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stop_server() {
	[ -n "$server" ] || return 0
	kill -TERM "$server" 2>/dev/null || true
	wait "$server" 2>/dev/null || true
	server=""
}

if [ -n "${SMOLFS_BIN:-}" ]; then
	[ -x "$SMOLFS_BIN" ] || die "SMOLFS_BIN=$SMOLFS_BIN is not an executable"
	cp "$SMOLFS_BIN" "$work/smolfs"
else
	command -v go >/dev/null || die "go not found: install Go, or set SMOLFS_BIN=/path/to/smolfs"
	go build -o "$work/smolfs" ./cmd/smolfs || die "building smolfs failed"
fi

# addr I SUFFIX: host I's subnet with the last byte SUFFIX.
addr() { echo "10.$(($1 / 256)).$(($1 % 256)).$2"; }
# mac I: host I's hardware address.
mac() { printf '02:00:00:00:%02x:%02x' $(($1 / 256)) $(($1 % 256)); }

# status PID FIELD: a field of /proc/PID/status, as a number.
status() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# answered FILE: how many lines of FILE say ok.
answered() { grep -c '^ok$' "$1" || true; }

# measure LABEL BINARY N: one row.
measure() {
	local label=$1 bin=$2 n=$3 i log=$work/$1-$3.log
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	# No IPv6: the taps carry only the test's traffic.
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	# The taps, configured and up before smolfs opens them: one ip process.
	for ((i = 0; i < n; i++)); do
		echo "tuntap add dev t$i mode tap"
		echo "addr add $(addr $i 2)/24 dev t$i"
		echo "link set t$i up"
	done | ip -n "$ns" -batch -
	: >"$work/ctl"
	for ((i = 1; i < n; i++)); do
		echo "new t$i ea $(mac $i) add $(addr $i 1)/24" >>"$work/ctl"
	done
	for ((i = 0; i < n; i++)); do
		echo "t$i $(addr $i 1)"
	done >"$work/targets"

	local sock=$work/$label.sock
	# ip netns exec execs in place: $! is the server itself.
	ip netns exec "$ns" "$bin" serve -listen "unix:$sock" -log-level warn \
		-host "t0,ea=$(mac 0),ip=$(addr 0 1)/24" 2>"$log" &
	server=$!
	for i in $(seq 200); do
		[ -S "$sock" ] && break
		kill -0 "$server" 2>/dev/null || die "$label: smolfs serve exited: $(tail -n 5 "$log")"
		sleep 0.05
	done
	[ -S "$sock" ] || die "$label: smolfs serve did not listen in 10 seconds"

	local t0 t1 ctl_s
	t0=$(date +%s.%N)
	if [ "$n" -gt 1 ] && ! "$work/smolfs" 9p -addr "unix:$sock" write ctl <"$work/ctl" 2>>"$log"; then
		echo "$label: the /ctl write failed: $(tail -n 3 "$log")" >&2
	fi
	t1=$(date +%s.%N)
	ctl_s=$(echo "$t0 $t1" | awk '{ printf "%.2f", $2 - $1 }')
	local hosts
	hosts=$("$work/smolfs" 9p -addr "unix:$sock" ls / 2>/dev/null | grep -c '^t[0-9]' || true)
	sleep 1 # the announcements are out; the server is idle
	local rss0 thr0
	rss0=$(status "$server" VmRSS)
	thr0=$(status "$server" Threads)

	ip netns exec "$ns" xargs -a "$work/targets" -P 32 -n 2 sh -c \
		'arping -q -c 1 -w 2 -I "$0" "$1" >/dev/null 2>&1 && echo ok || echo lost' >"$work/arp"
	ip netns exec "$ns" xargs -a "$work/targets" -P 32 -n 2 sh -c \
		'ping -q -c 1 -W 2 "$1" >/dev/null 2>&1 && echo ok || echo lost' >"$work/ping"
	local rss1 thr1
	rss1=$(status "$server" VmRSS)
	thr1=$(status "$server" Threads)
	stop_server
	ip netns del "$ns"

	printf '%-8s %6d %6d %7s %8.1f %8.1f %8d %8d %9s %9s\n' "$label" "$n" "$hosts" "$ctl_s" \
		"$(echo "$rss0" | awk '{ print $1 / 1024 }')" "$(echo "$rss1" | awk '{ print $1 / 1024 }')" \
		"$thr0" "$thr1" "$(answered "$work/arp")/$n" "$(answered "$work/ping")/$n"
}

echo "smolfs bench-hosts: one smolfs serve, N hosts on N taps in one namespace ($(nproc) CPUs)"
printf '%-8s %6s %6s %7s %8s %8s %8s %8s %9s %9s\n' binary hosts up "ctl s" "RSS MB" "after" threads after arp ping
for n in "${counts[@]}"; do
	measure this "$work/smolfs" "$n"
	if [ -n "$baseline" ]; then
		measure baseline "$baseline" "$n"
	fi
done
