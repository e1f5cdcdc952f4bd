#!/usr/bin/env bash
# usage: scripts/soak.sh [SECONDS]
#
# Endurance run of smolfs serve in a network namespace of its own: SECONDS
# (default 600) of soak after a warm-up of a tenth of that (10 to 60 s);
# `scripts/soak.sh 60` is CI's short form, under two minutes in all. Needs
# root, iproute2 and ping.
#
#  1. An ARP flood from 1,000,000 distinct senders (internal/cmd/arpflood) at
#     tap0's 10.0.0.1/8: peak RSS (VmHWM) <= 40 MB, the ARP cache ends at its
#     bound (1024 lines in tap0/arp) and arp_evicted counts the rest.
#  2. The load, for the warm-up and then for SECONDS: ping -f and an
#     open-loop ARP flood (SOAK_ARP_RATE requests/s, default 20000, a million
#     senders in turn) from the namespace, while two 9P clients (`smolfs 9p`)
#     go round: attach and detach frames and frames.pcap readers, read arp,
#     stats, ctl and addr, follow /log for the reason of their own failed
#     write, write good ctl and arp commands and create and delete a second
#     host (all must succeed), and write bad commands (all must fail).
#  3. At rest after each: goroutines (smolfs serve -debug), RSS (once the
#     server has returned its free memory: -debug's "free") and open fds at
#     the end are within 10% of what they were after the warm-up; no 9P
#     request had an unexpected outcome; ping lost under 1%; every received
#     frame is counted in exactly one fate counter (netcore.RxFates, read
#     from netcore/stats.go); the kernel's view of tap0 agrees (its TX
#     packets == rx_frames, its RX packets == tx_frames - tx_dropped); the
#     server never panicked, and exits 0 on SIGTERM.
#
# Everything it makes (namespace, processes, temporary files) goes when it
# exits, however it exits. SOAK_KEEP=1 keeps the work directory (logs,
# samples) and prints where it is.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: scripts/soak.sh [SECONDS]" >&2; }
case "${1:-600}" in
-h | --help)
	sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
'' | *[!0-9]*)
	usage
	exit 2
	;;
esac
secs=${1:-600}
if [ "$secs" -lt 10 ] || [ $# -gt 1 ]; then
	usage
	echo "soak.sh: SECONDS is 10 or more" >&2
	exit 2
fi
arp_rate=${SOAK_ARP_RATE:-20000}
case $arp_rate in '' | *[!0-9]*) echo "soak.sh: SOAK_ARP_RATE must be a number" >&2; exit 2 ;; esac

die() {
	echo "soak.sh: $*" >&2
	exit 1
}
[ "$(id -u)" = 0 ] || die "needs root for the network namespace and the tap devices: sudo $0 $secs"
for tool in ip ping timeout; do
	command -v $tool >/dev/null || die "$tool not found (apt-get install iproute2 iputils-ping coreutils)"
done

# Limits, in one place.
readonly rss_limit_kb=$((40 * 1024)) # peak RSS in any phase
readonly drift_pct=10                # goroutines, RSS and fds, end against start
readonly ping_loss_pct=1
readonly senders=1000000
readonly cache_size=1024 # netcore.DefaultARPCacheSize

# scripts/test.sh's run marker in the name tells its leftovers from others'.
ns=smolfs-soak-${SMOLFS_TEST_RUN:+$SMOLFS_TEST_RUN-}$$
work=$(mktemp -d /tmp/smolfs-soak.XXXXXX)
srv=""
bg=() # background processes to end on exit
failures=()

# stop_tree PID: ends PID and everything it started, however deep. A
# client below is a subshell whose commands run under timeout, which makes
# a process group of its own, so neither killing the subshell nor its group
# would reach them. Each process is stopped before its children are listed,
# so that it cannot start another meanwhile.
stop_tree() {
	local c
	kill -STOP "$1" 2>/dev/null || return 0
	for c in $(children "$1"); do stop_tree "$c"; done
	kill -KILL "$1" 2>/dev/null
}
# children PID: the pids whose parent is PID.
children() {
	local f line ppid
	for f in /proc/[0-9]*/stat; do
		read -r line <"$f" 2>/dev/null || continue
		# pid (comm) state ppid ...: comm may hold spaces and parentheses.
		read -r _ ppid _ <<<"${line##*) }"
		[ "$ppid" = "$1" ] && { f=${f#/proc/}; echo "${f%/stat}"; }
	done
}

cleanup() {
	local status=$?
	set +e
	touch "$work/stop"
	for p in "${bg[@]}"; do stop_tree "$p"; done
	if [ -n "$srv" ] && kill -0 "$srv" 2>/dev/null; then
		kill "$srv"
		for _ in $(seq 50); do kill -0 "$srv" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$srv" 2>/dev/null
	fi
	wait 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	if [ "${SOAK_KEEP:-}" = 1 ]; then
		echo "soak.sh: the logs are in $work" >&2
	else
		rm -rf "$work"
	fi
	exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n=== %s\n' "$*"; }
fail() {
	echo "FAIL: $*" >&2
	failures+=("$*")
}
# waitfor LIMIT_SECONDS COMMAND...: polls the command every 0.1 s.
gone() { ! kill -0 "$1" 2>/dev/null; }
waitfor() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}

step "build"
go build -o "$work/smolfs" ./cmd/smolfs
go build -o "$work/arpflood" ./internal/cmd/arpflood
bin=$work/smolfs

nsx() { ip netns exec "$ns" "$@"; }
ip netns add "$ns"
nsx ip link set lo up
nsx sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1

# ip netns exec execs smolfs in place: $! is the server's own pid (nsx, a
# function, would put a subshell in between).
ip netns exec "$ns" "$bin" serve -debug 127.0.0.1:6060 \
	-host tap0,ea=02:00:00:00:00:01,ip=192.168.69.1/24,ip=10.0.0.1/8 2>"$work/serve.log" &
srv=$!
# The bounds on waits for what must happen (the server gets ready, a 9P
# request is answered, a process ends when told to) only end a run that
# would otherwise hang: a minute, which no load on the machine reaches.
waitfor 60 grep -q 'msg=ready' "$work/serve.log" || { cat "$work/serve.log" >&2; die "smolfs serve did not get ready"; }
nsx ip addr add 192.168.69.100/24 dev tap0
nsx ip link set tap0 up

# 9P through the namespace's loopback, every request bounded in time.
ninep() { timeout 60 ip netns exec "$ns" "$bin" 9p "$@"; }
stats() { ninep read tap0/stats; }
stat_value() { awk -v n="$1" '$1 == n { print $2; found = 1 } END { exit !found }'; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$srv/status"; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$srv/status"; }
threads() { awk '/^Threads:/ { print $2 }' "/proc/$srv/status"; }
fds() { ls "/proc/$srv/fd" | wc -l; }
# rss_parts: RSS split into the process's own memory and mapped files (the
# binary's pages count in RSS once they are touched).
rss_parts() { awk '/^Rss(Anon|File):/ { sub(/:$/, "", $1); printf "%s%s=%s kB", sep, $1, $2; sep = " " }' "/proc/$srv/status"; }
# debug REQUEST: smolfs serve -debug's dump, after REQUEST ("" or "free").
debug() { nsx timeout 60 bash -c "exec 3<>/dev/tcp/127.0.0.1/6060 && echo '$1' >&3 && cat <&3"; }
# goroutine_total: the count in a -debug dump read from standard input.
goroutine_total() { awk '/^goroutine profile: total/ { print $4; exit }'; }
goroutines() { debug "" | goroutine_total; }
sample() { printf '%s rss_kb=%s threads=%s goroutines=%s fds=%s\n' "$1" "$(rss_kb)" "$(threads)" "$(goroutines)" "$(fds)"; }
# rest_sample NAME: at rest, RSS is measured after the server has returned
# its free memory to the kernel, so that it depends on what the server holds
# rather than on when its last garbage collection ran; it is read before
# anything else asks the server for a figure (a goroutine dump allocates).
# Sets rest_rss, rest_goroutines, rest_fds and rest_line (which also shows
# RssAnon/RssFile, threads and the runtime's memory figures). The dump is
# kept in $work/NAME.debug (its heap profile says who holds what), and the
# process's mappings in $work/NAME.smaps.
rest_sample() {
	local natural name=${1%:} parts
	natural=$(rss_kb)
	debug free >"$work/$name.debug"
	rest_rss=$(rss_kb) parts=$(rss_parts) rest_fds=$(fds)
	cat "/proc/$srv/smaps" >"$work/$name.smaps"
	rest_goroutines=$(goroutine_total <"$work/$name.debug")
	rest_line=$(printf '%s rss_kb=%s (%s, threads=%s) goroutines=%s fds=%s (rss_kb=%s before the free memory went back; %s)' \
		"$1" "$rest_rss" "$parts" "$(threads)" "$rest_goroutines" "$rest_fds" "$natural" \
		"$(awk '/^# (HeapAlloc|HeapInuse|Stack|Sys|GCSys|BuckHashSys|OtherSys) = / { sub(/^# /, ""); printf "%s%s", sep, $0; sep = ", " }' "$work/$name.debug")")
	echo "$rest_line" >>"$work/samples"
	echo "$rest_line"
}

# The fate counters, from the one list in netcore/stats.go.
fates=()
for id in $(awk '/^var RxFates = /,/}$/' netcore/stats.go | sed 's/.*{//; s/}.*//' | tr ', \t' '\n\n\n' | grep -E '^[A-Z][A-Za-z0-9]*$'); do
	fates+=("$(awk -v id="$id:" '$1 == id { gsub(/[",]/, "", $2); print $2 }' netcore/stats.go)")
done
[ ${#fates[@]} -ge 10 ] || die "found ${#fates[@]} fate counters in netcore/stats.go: has RxFates changed form?"

step "1. ARP flood from $senders distinct senders"
sample "before:" | tee -a "$work/samples"
rss_before=$(rss_kb)
nsx "$work/arpflood" -i tap0 -target 10.0.0.1 -src 10.1.0.0 -senders $senders -duration 180s | tee "$work/flood1"
st=$(stats)
arp_lines=$(ninep read tap0/arp | wc -l)
evicted=$(stat_value arp_evicted <<<"$st")
requests=$(stat_value arp_rx_request <<<"$st")
rss_after=$(rss_kb)
hwm=$(hwm_kb)
echo "RSS ${rss_before} kB before, ${rss_after} kB after (peak ${hwm} kB); tap0/arp has ${arp_lines} lines; arp_rx_request ${requests}, arp_evicted ${evicted}"
grep -q "^sent=$senders " "$work/flood1" || fail "the flood did not send all $senders requests: $(cat "$work/flood1")"
[ "$requests" -ge $senders ] || fail "tap0 received $requests ARP requests of the $senders sent"
[ "$arp_lines" -eq $cache_size ] || fail "tap0/arp has $arp_lines lines after the flood, want the bound, $cache_size"
[ "$evicted" -ge $((senders - cache_size)) ] || fail "arp_evicted is $evicted, want at least $((senders - cache_size))"
[ "$hwm" -le $rss_limit_kb ] || fail "peak RSS ${hwm} kB during the flood, over ${rss_limit_kb} kB"

# client ID [ONCE]: the 9P side of the soak, in rounds until $work/stop
# exists (or one round). Every request is expected to succeed (ok) or to
# fail (xfail); anything else is counted in bad and described in
# $work/client.ID.bad.
client() {
	local id=$1 once=${2:-} ok=0 xfail=0 bad=0 out round=0 mtu logger
	local other=tap$id net=192.168.$((70 + id)).1/24 ip=10.200.$id.1
	local badlog=$work/client.$id.bad
	expect_ok() {
		local what=$1
		shift
		if out=$("$@" 2>&1); then
			ok=$((ok + 1))
		else
			bad=$((bad + 1))
			printf '%s: failed (%s): %s\n' "$what" "$?" "$out" >>"$badlog"
		fi
	}
	expect_fail() {
		local what=$1
		shift
		if out=$("$@" 2>&1); then
			bad=$((bad + 1))
			printf '%s: succeeded, want a failure: %s\n' "$what" "$out" >>"$badlog"
		else
			xfail=$((xfail + 1))
		fi
	}
	# lines N CMD...: the command succeeds and prints at least N lines.
	lines() {
		local n=$1 got
		shift
		got=$("$@" | wc -l) || return 1
		[ "$got" -ge "$n" ] || { echo "$got lines, want $n"; return 1; }
	}
	arp_ok() {
		local n
		n=$(ninep read tap0/arp | wc -l) || return 1
		[ "$n" -ge 1 ] && [ "$n" -le $cache_size ] || { echo "tap0/arp has $n lines"; return 1; }
	}
	stats_ok() { ninep read tap0/stats | grep -q '^rx_frames [0-9]'; }
	pcap_ok() {
		local magic
		magic=$(ninep read tap0/frames.pcap | head -c 24 | od -An -tx1 | tr -d ' \n') || return 1
		[ "${magic:0:8}" = 4d3cb2a1 ] || { echo "pcap header $magic"; return 1; }
	}
	write() { printf '%b' "$2" | ninep write "$1"; }
	while [ -n "$once" ] || [ ! -e "$work/stop" ]; do
		round=$((round + 1))
		expect_ok "read 5 lines of tap0/frames" lines 5 bash -c "timeout 60 ip netns exec $ns $bin 9p read tap0/frames | head -n 5"
		expect_ok "read the header of tap0/frames.pcap" pcap_ok
		expect_ok "read tap0/arp" arp_ok
		expect_ok "read tap0/stats" stats_ok
		expect_ok "read tap0/ctl" lines 3 ninep read tap0/ctl
		expect_ok "read tap0/addr" lines 3 ninep read tap0/addr
		expect_ok "ls tap0" lines 6 ninep ls tap0
		expect_ok "stat tap0/stats" ninep stat tap0/stats
		expect_ok "garp" write tap0/ctl 'garp\n'
		expect_ok "arptimeout and mtu" write tap0/ctl 'arptimeout 60\nmtu 1500\npromiscuous off\n'
		expect_ok "arp add" write tap0/arp "add $ip 02:00:00:00:c8:0$id\n"
		expect_ok "arp del" write tap0/arp "del $ip\n"
		expect_ok "new $other" write ctl "new $other add $net\n"
		expect_ok "read $other/stats" lines 10 ninep read "$other/stats"
		expect_ok "del $other" write ctl "del $other\n"
		# A failed command's reason reaches a reader of /log: the reader
		# starts before the write, and the value is new. (The reader ends
		# when the next event after grep's finds no one to read it.)
		mtu=$((100000 + round * 10 + id))
		(
			set +o pipefail
			timeout 60 ip netns exec "$ns" "$bin" 9p read log | grep -m 1 -q "\"mtu $mtu\""
		) &
		logger=$!
		# A new reader of /log starts with its last 256 lines, so the
		# reader need not be there before the write; the pause lets it be.
		sleep 0.2
		expect_fail "mtu $mtu" write tap0/ctl "mtu $mtu\n"
		expect_fail "a bad address" write tap0/ctl 'add 300.1.1.1/24\n'
		expect_fail "garp then a bad line" write tap0/ctl 'garp\nbogus\n'
		expect_fail "a bad MAC" write tap0/arp "add $ip 02:00:00:00:00\n"
		expect_fail "del of an unknown host" write ctl 'del nonesuch\n'
		expect_fail "a second tap0" write ctl 'new tap0\n'
		expect_fail "read of a missing file" ninep read tap0/nonesuch
		if wait $logger; then
			ok=$((ok + 1))
		else
			bad=$((bad + 1))
			echo "the reason of the failed mtu $mtu did not reach a reader of /log" >>"$badlog"
		fi
		[ -z "$once" ] || break
	done
	echo "$ok $xfail $bad" >"$work/client.$id.counts"
}

# load NAME SECONDS: ping -f, the open-loop ARP flood and two 9P clients
# for SECONDS, sampled every 10 s; then the clients finish their round while
# the traffic goes on, and ping and the flood are interrupted (they print
# their summaries). Unexpected outcomes are failures.
load() {
	local name=$1 secs=$2 ping_pid flood_pid c1 c2 end p o x b ok=0 xfail=0 bad=0 sent got
	rm -f "$work/stop" "$work"/client.[12].*
	ip netns exec "$ns" ping -f -q -w $((secs + 300)) 192.168.69.1 >"$work/$name.ping" 2>&1 &
	ping_pid=$!
	ip netns exec "$ns" "$work/arpflood" -i tap0 -target 10.0.0.1 -src 10.1.0.0 -senders $senders \
		-window 0 -rate "$arp_rate" -count 1000000000000 -duration $((secs + 300))s >"$work/$name.flood" 2>&1 &
	flood_pid=$!
	client 1 &
	c1=$!
	client 2 &
	c2=$!
	bg=("$ping_pid" "$flood_pid" "$c1" "$c2")
	end=$((SECONDS + secs))
	while [ $SECONDS -lt $end ]; do
		sleep $((end - SECONDS < 10 ? end - SECONDS : 10))
		kill -0 "$srv" 2>/dev/null || die "smolfs serve has exited:$(echo; tail -20 "$work/serve.log")"
		sample "$name $((secs - (end - SECONDS)))s:" | tee -a "$work/samples"
		[ "$(hwm_kb)" -le $rss_limit_kb ] || { fail "peak RSS $(hwm_kb) kB, over ${rss_limit_kb} kB"; break; }
	done
	touch "$work/stop"
	for p in "$c1" "$c2"; do
		waitfor 600 gone "$p" || { stop_tree "$p"; fail "a 9P client did not finish its round within 10 minutes"; }
	done
	kill -INT "$ping_pid" "$flood_pid" 2>/dev/null
	for p in "$ping_pid" "$flood_pid"; do
		waitfor 60 gone "$p" || { kill -9 "$p"; fail "ping or arpflood did not end within a minute of SIGINT"; }
	done
	wait "${bg[@]}" || true
	bg=()

	for id in 1 2; do
		read -r o x b <"$work/client.$id.counts" || die "client $id left no counts"
		ok=$((ok + o)) xfail=$((xfail + x)) bad=$((bad + b))
		[ "$b" -eq 0 ] || { echo "client $id:" >&2; sort "$work/client.$id.bad" | uniq -c | sort -rn | head >&2; }
	done
	echo "9P requests: $ok succeeded as they should, $xfail failed as they should, $bad did otherwise"
	[ "$ok" -gt 0 ] || fail "$name: no 9P request succeeded"
	[ "$bad" -eq 0 ] || fail "$name: $bad 9P requests had an unexpected outcome"
	grep -E 'packets transmitted' "$work/$name.ping" || true
	read -r sent got < <(awk '/packets transmitted/ { print $1, $4 }' "$work/$name.ping") || true
	if [ -z "${sent:-}" ] || [ "$sent" -eq 0 ]; then
		fail "$name: ping -f printed no summary: $(cat "$work/$name.ping")"
	elif [ $(((sent - got) * 100)) -ge $((sent * ping_loss_pct)) ]; then
		fail "$name: ping -f lost $((sent - got)) of $sent, $ping_loss_pct% or more"
	fi
	echo "ARP flood: $(cat "$work/$name.flood")"
}

# Frames in flight have landed once two reads a second apart agree; the
# kernel's counters are read between two equal reads of ours.
kernel() { nsx cat "/sys/class/net/tap0/statistics/$1"; }
settled() {
	st=$(stats) || return 1
	sleep 1
	k_tx=$(kernel tx_packets) k_rx=$(kernel rx_packets)
	[ "$(stats)" = "$st" ]
}

warm=$((secs / 10 < 10 ? 10 : secs / 10 > 60 ? 60 : secs / 10))
step "2. warm-up: ${warm} s of the soak's load, then the start figures at rest"
load warmup $warm
waitfor 60 settled || fail "tap0's counters still moved a minute after the warm-up"
sleep 2
rest_sample "start:"
start=$rest_line g0=$rest_goroutines r0=$rest_rss f0=$rest_fds

step "3. soak: ${secs} s of ping -f, ARP flood at ${arp_rate}/s and two 9P clients"
load soak "$secs"

step "4. at rest again: check"
waitfor 60 settled || fail "tap0's counters still moved a minute after the traffic stopped"
rx=$(stat_value rx_frames <<<"$st")
tx=$(stat_value tx_frames <<<"$st")
txd=$(stat_value tx_dropped <<<"$st")
sum=0
for f in "${fates[@]}"; do
	v=$(stat_value "$f" <<<"$st") || { fail "tap0/stats has no $f"; continue; }
	sum=$((sum + v))
done
echo "tap0: rx_frames $rx, fates add up to $sum; kernel TX packets $k_tx; tx_frames $tx - tx_dropped $txd = $((tx - txd)), kernel RX packets $k_rx"
[ "$sum" -eq "$rx" ] || fail "rx_frames is $rx, but the fate counters (${fates[*]}) add up to $sum"
[ "$k_tx" -eq "$rx" ] || fail "the kernel sent $k_tx frames on tap0, smolfs counted $rx"
[ "$k_rx" -eq $((tx - txd)) ] || fail "the kernel received $k_rx frames on tap0, smolfs sent $((tx - txd)) (tx_frames $tx - tx_dropped $txd)"
# What reached the host was answered: every ARP request (all of them ask
# for one of its addresses), and every echo request whose reply did not
# have to be dropped while it waited for the peer's ARP entry (a flood
# from a million senders pushes that out of the cache now and then).
v() { stat_value "$1" <<<"$st"; }
echo "tap0: arp_rx_request $(v arp_rx_request), arp_tx_reply $(v arp_tx_reply); icmp_echo_rx $(v icmp_echo_rx), icmp_echo_tx $(v icmp_echo_tx), arp_pending_dropped $(v arp_pending_dropped)"
[ "$(v arp_tx_reply)" -eq "$(v arp_rx_request)" ] || fail "tap0 answered $(v arp_tx_reply) of $(v arp_rx_request) ARP requests"
[ $(($(v icmp_echo_tx) + $(v arp_pending_dropped))) -eq "$(v icmp_echo_rx)" ] ||
	fail "tap0: icmp_echo_rx $(v icmp_echo_rx) != icmp_echo_tx $(v icmp_echo_tx) + arp_pending_dropped $(v arp_pending_dropped)"

# Frames the kernel dropped before they reached tap0's queue (its qdisc)
# or in it never reached smolfs: shown, not judged.
nsx ip -s link show tap0 | sed -n '/TX:/,+1p'
nsx tc -s qdisc show dev tap0 2>/dev/null | grep -m 1 -E 'dropped' || true

# Goroutines of the finished connections end and the heap settles: wait a
# little for the figures to come back before judging them.
within() { [ -n "$1" ] && [ -n "$2" ] && [ "$1" -le $(($2 + $2 * drift_pct / 100)) ]; }
goroutines_back() { within "$(goroutines)" "$g0"; }
waitfor 20 goroutines_back || true
sleep 2
echo "$start"
rest_sample "end:"
g1=$rest_goroutines r1=$rest_rss f1=$rest_fds
within "$g1" "$g0" || fail "goroutines: $g1 at the end, $g0 at the start: more than $drift_pct% more"
within "$r1" "$r0" || fail "RSS: ${r1} kB at the end, ${r0} kB at the start: more than $drift_pct% more"
within "$f1" "$f0" || fail "open fds: $f1 at the end, $f0 at the start: more than $drift_pct% more"
hwm=$(hwm_kb)
echo "peak RSS over the whole run: ${hwm} kB (limit ${rss_limit_kb} kB)"
[ "$hwm" -le $rss_limit_kb ] || fail "peak RSS ${hwm} kB, over ${rss_limit_kb} kB"

if grep -E 'panic:|fatal error:|DATA RACE' "$work/serve.log" >&2; then
	fail "smolfs serve reported the above"
fi
kill -TERM "$srv"
waitfor 60 gone "$srv" || fail "smolfs serve did not exit within a minute of SIGTERM"
wait "$srv" && code=0 || code=$?
srv=""
[ "$code" -eq 0 ] || fail "smolfs serve exited with $code after SIGTERM"

if [ ${#failures[@]} -gt 0 ]; then
	printf '\nsoak.sh: %d checks failed:\n' ${#failures[@]} >&2
	printf '  %s\n' "${failures[@]}" >&2
	exit 1
fi
printf '\nsoak.sh: passed (%s s soak)\n' "$secs"
