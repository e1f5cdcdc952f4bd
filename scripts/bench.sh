#!/usr/bin/env bash
# usage: scripts/bench.sh [-rounds N] [-count N] [-tests icmp,arp,icmp6,udp,tcp] [-no-readers] [-keep]
#
# How fast smolfs answers on a tap, beside the kernel answering on a veth,
# in one run, with tools you have: ping, iproute2 and this checkout's
# binaries (smolfs, internal/cmd/arpflood for ARP and internal/cmd/udpload
# for UDP, built with go unless SMOLFS_BIN, ARPFLOOD_BIN and UDPLOAD_BIN name
# them), and socat for the kernel's UDP services. Nothing touches this machine's
# own interfaces: each target lives in namespaces the script makes and
# removes.
#
#   kernel   192.168.69.1 is Linux itself, in a namespace of its own across a
#            veth pair: the baseline. It answers inside the sender's system
#            call (no process, no wake-up): out of reach of any tap stack.
#   smolfs   `smolfs serve` on a tap whose kernel side is 192.168.69.100/24
#   readers  the same with one `frames` and one `frames.pcap` reader attached
#            over 9P (their CPU is counted with the server's)
#
# Tests, each of -count requests, the targets in turn, their order reversed
# every round so that drift cancels (medians shown):
#   icmp K=64  ping -f -l 64: at most 64 echo requests outstanding
#   icmp K=1   ping -f: one at a time (the round trip is ping's average)
#   arp K=64   arpflood -window 64: ARP who-has, 64 outstanding
#   icmp6 K=64 ping -6 -f -l 64 to 2001:db8::1: ICMPv6 echo, 64 outstanding
#              (smolfs with `ipv6 on` and that address, the kernel with it
#              on its veth)
# then, with the readers attached, ARP at a fixed 5,000 requests/s (10,000
# frames/s captured) for 10 s: the readers must drop nothing (capture_dropped
# in stats); the exit status is 1 if they do.
#
# UDP, through a conversation's data file, beside the kernel's socat in the
# same run (a service per port, a process per caller in both):
#   udp9 rate  the highest rate at which one reader gets every datagram: the
#              offered rate steps up (10,000/s, 20,000/s, ... 400,000/s,
#              64-byte datagrams, 1 s each, udpload -rate) until a step loses
#              any (a lossy step is tried once more); the reader counts the
#              bytes it got: `smolfs listen -idle 1 udp!*!9 sh -c 'wc -c'`,
#              against `socat -u -T 1 UDP-RECV:9 - | wc -c`
#   udp7 echo  round trips, one datagram at a time (udpload -echo), through
#              `smolfs listen udp!*!7 cat` against `socat UDP-LISTEN:7
#              EXEC:cat`; CPU per round trip is smolfs serve's and listen's
#
# TCP, from the client namespace's kernel to discard (port 9) and echo (port
# 7): smolfs's served by `smolfs listen -quiet -service discard|echo` through
# the tree, on a plain tap (smolfs) and on one with the virtio-net header
# and segmentation offload (offload: serve -offload); the kernel's by a
# python3 server (a thread per connection):
#   bulk       dd bs=64k of -count x 2 kB into nc -N to discard: Gbit/s of
#              data the server read, and CPU per MB
#   rr         1-byte echo round trips on one connection (python3), -count/5
#   crr        connect, 1-byte echo, close, 8 threads for 5 s (python3)
# CPU is smolfs serve's and its listens' (the kernel's: its python server's,
# without the kernel's own work, which it does in the client's calls).
#
# CPU per reply is utime+stime from /proc/PID/stat (the server's and its
# readers') over the test, in 10 ms ticks. netbench (../shared/netbench in
# the development setup) measures more carefully and also against its
# reflector and gVisor; if it is there, the command to run is printed.
#
#   -rounds N    rounds (default 3)
#   -count N     requests per test (default 100000; UDP echo: a fifth)
#   -tests LIST  which tests, of icmp, arp, icmp6, udp and tcp (default: all)
#   -no-readers  leave out the readers target and the drop check
#   -keep        keep the work directory (logs, captures) and say where
#
# Needs root (namespaces, a tap), ping from iputils, socat for udp, and
# dd, nc (netcat-openbsd) and python3 for tcp.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

rounds=3
count=100000
readers=1
keep=0
want=icmp,arp,icmp6,udp,tcp
usage() {
	echo "usage: scripts/bench.sh [-rounds N] [-count N] [-tests icmp,arp,icmp6,udp,tcp] [-no-readers] [-keep]" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	-rounds)
		[ $# -ge 2 ] || usage
		rounds=$2
		shift 2
		;;
	-count)
		[ $# -ge 2 ] || usage
		count=$2
		shift 2
		;;
	-tests)
		[ $# -ge 2 ] || usage
		want=$2
		shift 2
		;;
	-no-readers)
		readers=0
		shift
		;;
	-keep)
		keep=1
		shift
		;;
	-h | --help)
		sed -n '2,54p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) usage ;;
	esac
done
case $rounds$count in *[!0-9]*) usage ;; esac
[ "$rounds" -ge 1 ] && [ "$count" -ge 1000 ] || {
	echo "bench.sh: -rounds at least 1, -count at least 1000" >&2
	exit 2
}

tests=()
udp=0
tcp=0
IFS=, read -r -a wanted <<<"$want"
for w in "${wanted[@]}"; do
	case $w in
	icmp) tests+=(icmp64 icmp1) ;;
	arp) tests+=(arp64) ;;
	icmp6) tests+=(icmp6) ;;
	udp) udp=1 ;;
	tcp) tcp=1 ;;
	*) usage ;;
	esac
done
[ "${#tests[@]}" -gt 0 ] || readers=0 # the readers are for the ICMP and ARP tests

die() {
	echo "bench.sh: $*" >&2
	exit 1
}
[ "$(id -u)" = 0 ] || die "needs root for network namespaces and a tap: sudo $0"
command -v ip >/dev/null || die "ip not found: apt-get install iproute2"
command -v ping >/dev/null || die "ping not found: apt-get install iputils-ping"
[ "$udp" = 0 ] || command -v socat >/dev/null || die "socat not found (the kernel's UDP services): apt-get install socat"
if [ "$tcp" = 1 ]; then
	command -v nc >/dev/null || die "nc not found (the TCP bulk client): apt-get install netcat-openbsd"
	command -v python3 >/dev/null || die "python3 not found (the TCP clients and the kernel's servers): apt-get install python3"
fi

work=$(mktemp -d /tmp/smolfs-bench.XXXXXX)
tag=$$
ns_client_k=sbench-kc-$tag # the kernel baseline's client side
ns_host_k=sbench-kh-$tag   # the kernel baseline: 192.168.69.1
ns_smolfs=sbench-s-$tag
ns_readers=sbench-r-$tag
ns_offload=sbench-o-$tag
made=()
pids=()

cleanup() {
	local status=$? p
	trap - EXIT INT TERM
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	for p in "${made[@]}"; do
		ip netns del "$p" 2>/dev/null || true
	done
	if [ "$keep" = 1 ]; then
		echo "bench.sh: work directory $work" >&2
	else
		rm -rf "$work"
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The binaries.
if [ -n "${SMOLFS_BIN:-}" ]; then
	[ -x "$SMOLFS_BIN" ] || die "SMOLFS_BIN=$SMOLFS_BIN is not an executable"
	cp "$SMOLFS_BIN" "$work/smolfs"
else
	command -v go >/dev/null || die "go not found: install Go, or set SMOLFS_BIN=/path/to/smolfs"
	go build -o "$work/smolfs" ./cmd/smolfs || die "building smolfs failed"
fi
if [ -n "${ARPFLOOD_BIN:-}" ]; then
	[ -x "$ARPFLOOD_BIN" ] || die "ARPFLOOD_BIN=$ARPFLOOD_BIN is not an executable"
	cp "$ARPFLOOD_BIN" "$work/arpflood"
else
	command -v go >/dev/null || die "go not found: install Go, or set ARPFLOOD_BIN=/path/to/arpflood"
	go build -o "$work/arpflood" ./internal/cmd/arpflood || die "building arpflood failed"
fi
if [ -n "${UDPLOAD_BIN:-}" ]; then
	[ -x "$UDPLOAD_BIN" ] || die "UDPLOAD_BIN=$UDPLOAD_BIN is not an executable"
	cp "$UDPLOAD_BIN" "$work/udpload"
elif [ "$udp" = 1 ]; then
	command -v go >/dev/null || die "go not found: install Go, or set UDPLOAD_BIN=/path/to/udpload"
	go build -o "$work/udpload" ./internal/cmd/udpload || die "building udpload failed"
fi
smolfs=$work/smolfs
arpflood=$work/arpflood
udpload=$work/udpload

newns() {
	ip netns add "$1"
	made+=("$1")
	ip -n "$1" link set lo up
	# No IPv6: the interfaces carry only the test's traffic.
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# The kernel baseline: veth0 (the client) in one namespace, veth1 with the
# server's address and MAC in another.
newns "$ns_client_k"
newns "$ns_host_k"
ip -n "$ns_client_k" link add veth0 type veth peer name veth1 netns "$ns_host_k"
ip -n "$ns_client_k" link set veth0 address 02:00:00:00:00:02
ip -n "$ns_client_k" addr add 192.168.69.100/24 dev veth0
ip -n "$ns_host_k" link set veth1 address 02:00:00:00:00:01
ip -n "$ns_host_k" addr add 192.168.69.1/24 dev veth1
ip -n "$ns_host_k" link set veth1 up
ip -n "$ns_client_k" link set veth0 up
# ipv6_on NAMESPACE IFACE ADDRESS: IPv6 on that interface alone, without
# DAD, for the icmp6 test.
ipv6_on() {
	ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=0" "net.ipv6.conf.$2.accept_dad=0"
	ip -n "$1" addr add "$3/64" dev "$2" nodad
}
ipv6_on "$ns_client_k" veth0 2001:db8::100
ipv6_on "$ns_host_k" veth1 2001:db8::1

# start_smolfs NAMESPACE [FLAGS...]: a persistent tap configured first, then
# smolfs on it (with FLAGS), serving 9P on a unix socket in the work
# directory. Sets started_pid.
start_smolfs() {
	local ns=$1 i
	shift
	newns "$ns"
	ip -n "$ns" tuntap add dev tap0 mode tap
	ip -n "$ns" link set tap0 address 02:00:00:00:00:02
	ip -n "$ns" addr add 192.168.69.100/24 dev tap0
	ip -n "$ns" link set tap0 up
	ip netns exec "$ns" "$smolfs" serve -listen "unix:$work/$ns.sock" \
		-host tap0,ea=02:00:00:00:00:01,ip=192.168.69.1/24 "$@" 2>"$work/$ns.log" &
	started_pid=$!
	pids+=("$started_pid")
	for i in $(seq 1200); do # a minute: only a hang ends this wait
		if grep -q 'msg=ready' "$work/$ns.log"; then
			ipv6_on "$ns" tap0 2001:db8::100
			printf 'ipv6 on\nadd 2001:db8::1/64\n' |
				ip netns exec "$ns" "$smolfs" 9p -addr "unix:$work/$ns.sock" write tap0/ctl
			return 0
		fi
		kill -0 "$started_pid" 2>/dev/null || {
			cat "$work/$ns.log" >&2
			die "smolfs serve exited"
		}
		sleep 0.05
	done
	cat "$work/$ns.log" >&2
	die "smolfs serve did not get ready in a minute"
}

start_smolfs "$ns_smolfs"
targets=(kernel smolfs)
declare -A client=([kernel]=$ns_client_k [smolfs]=$ns_smolfs)
declare -A ifname=([kernel]=veth0 [smolfs]=tap0)
declare -A cpupids=([kernel]="" [smolfs]=$started_pid)

if [ "$readers" = 1 ]; then
	start_smolfs "$ns_readers"
	rpids=$started_pid
	for f in frames frames.pcap; do
		ip netns exec "$ns_readers" "$smolfs" 9p -addr "unix:$work/$ns_readers.sock" read "tap0/$f" \
			>"$work/readers.$f" 2>>"$work/readers.err" &
		pids+=("$!")
		rpids="$rpids $!"
	done
	targets+=(readers)
	client[readers]=$ns_readers
	ifname[readers]=tap0
	cpupids[readers]=$rpids
fi

# Every target answers before anything is measured (over IPv6 once DAD
# is done: smolfs runs it for 2001:db8::1, a second or two).
for t in "${targets[@]}"; do
	for dst in 192.168.69.1 2001:db8::1; do
		ok=0
		for _ in $(seq 50); do
			if ip netns exec "${client[$t]}" ping -c 1 -W 1 -q "$dst" >/dev/null 2>&1; then
				ok=1
				break
			fi
			sleep 0.1
		done
		[ "$ok" = 1 ] || die "$t does not answer ping $dst"
	done
done

# ticks PID...: utime+stime in clock ticks, summed.
ticks() {
	local p sum=0 v
	for p in "$@"; do
		v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
		sum=$((sum + v))
	done
	echo "$sum"
}
hz=$(getconf CLK_TCK)

# run TARGET TEST: one test; appends "TARGET TEST rate cpu-µs/reply rtt-µs"
# to the results.
results=$work/results
: >"$results"
run() {
	local t=$1 test=$2 ns=${client[$1]} out rate replies secs t0 t1 cpu="-" rtt="-"
	# shellcheck disable=SC2086 # a list of pids
	t0=$(ticks ${cpupids[$t]})
	case $test in
	icmp64 | icmp1 | icmp6)
		local preload=() dst=192.168.69.1
		[ "$test" = icmp1 ] || preload=(-l 64)
		[ "$test" = icmp6 ] && dst=2001:db8::1
		out=$(ip netns exec "$ns" ping -f "${preload[@]}" -c "$count" -w 60 -q "$dst" 2>&1 || true)
		replies=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$out")
		secs=$(sed -n 's/.* time \([0-9]*\)ms.*/\1/p' <<<"$out")
		[ -n "$replies" ] && [ -n "$secs" ] && [ "$secs" -gt 0 ] || die "$t $test: ping said: $out"
		rate=$((replies * 1000 / secs))
		rtt=$(sed -n 's|^rtt .* = [0-9.]*/\([0-9.]*\)/.*|\1|p' <<<"$out" | awk '{printf "%.0f", $1 * 1000}')
		;;
	arp64)
		out=$(ip netns exec "$ns" "$arpflood" -i "${ifname[$t]}" -target 192.168.69.1 -senders 1 \
			-count "$count" -duration 60s -window 64 2>&1) || die "$t $test: arpflood: $out"
		replies=$(sed -n 's/.*replies=\([0-9]*\).*/\1/p' <<<"$out")
		rate=$(sed -n 's/.*reply_rate=\([0-9]*\).*/\1/p' <<<"$out")
		;;
	esac
	# shellcheck disable=SC2086
	t1=$(ticks ${cpupids[$t]})
	if [ -n "${cpupids[$t]}" ] && [ "$replies" -gt 0 ]; then
		cpu=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v n="$replies" 'BEGIN {printf "%.2f", d / hz * 1e6 / n}')
	fi
	echo "$t $test $rate $cpu $rtt" >>"$results"
}

# UDP: the services. smolfs's are two `smolfs listen` processes (a `wc -c`
# per caller on port 9, a `cat` per caller on port 7), each call ending after
# a second of silence; the kernel's are socat processes started per step.
udpsize=64
if [ "$udp" = 1 ]; then
	udptargets=(kernel smolfs)
	for svc in 9 7; do
		cmd=(cat)
		[ "$svc" = 9 ] && cmd=(sh -c 'wc -c >>"$0"' "$work/udp9.smolfs")
		ip netns exec "$ns_smolfs" "$smolfs" listen -addr "unix:$work/$ns_smolfs.sock" -idle 1 "udp!*!$svc" \
			"${cmd[@]}" 2>"$work/listen$svc.log" &
		pids+=("$!")
		declare "listen$svc=$!"
	done
	: >"$work/udp9.smolfs"
	for svc in 9 7; do
		for _ in $(seq 100); do
			grep -q 'announced as' "$work/listen$svc.log" && break
			sleep 0.05
		done
		grep -q 'announced as' "$work/listen$svc.log" || {
			cat "$work/listen$svc.log" >&2
			die "smolfs listen udp!*!$svc did not announce"
		}
	done
	# shellcheck disable=SC2154 # declared above
	declare -A udpcpu=([kernel]="" [smolfs]="${cpupids[smolfs]} $listen9 $listen7")
fi

# bound PORT: waits until the kernel baseline's socat has bound PORT.
bound() {
	local _
	for _ in $(seq 100); do
		[ -n "$(ip netns exec "$ns_host_k" ss -Hlun "sport = :$1")" ] && return 0
		sleep 0.02
	done
	die "socat did not bind UDP port $1"
}

# udp_step TARGET RATE: RATE datagrams/s for a second into the port 9
# reader; prints "DELIVERED SENT SENDER-RATE CPU-TICKS".
udp_step() {
	local t=$1 rate=$2 n out bytes lines spid t0 t1 _
	n=$((rate > 10000 ? rate : 10000))
	# shellcheck disable=SC2086
	t0=$(ticks ${udpcpu[$t]})
	case $t in
	kernel)
		# shellcheck disable=SC2016 # for the inner shell
		ip netns exec "$ns_host_k" sh -c 'socat -u -T 1 UDP-RECV:9 STDOUT | wc -c >"$0"' "$work/udp9.kernel" &
		spid=$!
		bound 9
		out=$(ip netns exec "$ns_client_k" "$udpload" -to 192.168.69.1:9 -size "$udpsize" -count "$n" \
			-rate "$rate" -lead 200ms 2>&1) || die "udp9 $t: udpload: $out"
		wait "$spid"
		bytes=$(cat "$work/udp9.kernel")
		;;
	smolfs)
		lines=$(wc -l <"$work/udp9.smolfs")
		out=$(ip netns exec "$ns_smolfs" "$udpload" -to 192.168.69.1:9 -size "$udpsize" -count "$n" \
			-rate "$rate" -lead 200ms 2>&1) || die "udp9 $t: udpload: $out"
		for _ in $(seq 300); do
			[ "$(wc -l <"$work/udp9.smolfs")" -gt "$lines" ] && break
			sleep 0.05
		done
		bytes=$(sed -n "$((lines + 1))p" "$work/udp9.smolfs")
		;;
	esac
	# shellcheck disable=SC2086
	t1=$(ticks ${udpcpu[$t]})
	echo "$((${bytes:-0} / udpsize)) $n $(sed -n 's/.* rate=\([0-9]*\).*/\1/p' <<<"$out") $((t1 - t0))"
}

udprates=(10000 20000 30000 40000 50000 60000 70000 80000 100000 125000 150000 200000 250000 300000 400000)

# run_udp9 TARGET: steps the rate up until a step loses datagrams (twice);
# appends "TARGET udp9 BEST-RATE CPU-µs/datagram-at-it - LIMIT" to the
# results, LIMIT saying what ended the ladder: loss, the sender (it could not
# offer the rate) or the top step.
run_udp9() {
	local t=$1 rate best=0 cpu="-" limit=top got try
	for rate in "${udprates[@]}"; do
		for try in 1 2; do
			read -r -a got <<<"$(udp_step "$t" "$rate")"
			[ "${got[0]}" -ge "${got[1]}" ] && break
		done
		echo "bench.sh: udp9 $t $rate/s: ${got[0]} of ${got[1]} delivered (sender at ${got[2]}/s)" >>"$work/udp.log"
		if [ "${got[0]}" -lt "${got[1]}" ]; then
			limit=loss
			break
		fi
		if [ "${got[2]}" -lt $((rate * 95 / 100)) ]; then
			limit=sender
			break
		fi
		best=$rate
		[ -n "${udpcpu[$t]}" ] && cpu=$(awk -v d="${got[3]}" -v hz="$hz" -v n="${got[1]}" 'BEGIN {printf "%.2f", d / hz * 1e6 / n}')
	done
	echo "$t udp9 $best $cpu - $limit" >>"$results"
}

# run_udp7 TARGET: echo round trips; appends "TARGET udp7 RATE CPU RTT-p50".
run_udp7() {
	local t=$1 n=$((count / 5)) out spid="" t0 t1 cpu="-" rate rtt replies
	# shellcheck disable=SC2086
	t0=$(ticks ${udpcpu[$t]})
	if [ "$t" = kernel ]; then
		ip netns exec "$ns_host_k" socat -T 1 UDP-LISTEN:7,reuseaddr EXEC:cat &
		spid=$!
		bound 7
	fi
	out=$(ip netns exec "${client[$t]}" "$udpload" -echo -to 192.168.69.1:7 -size "$udpsize" -count "$n" \
		-duration 60s 2>&1) || die "udp7 $t: udpload: $out"
	[ -n "$spid" ] && wait "$spid"
	# shellcheck disable=SC2086
	t1=$(ticks ${udpcpu[$t]})
	rate=$(sed -n 's/.* rate=\([0-9]*\).*/\1/p' <<<"$out")
	rtt=$(sed -n 's/.*rtt_p50_us=\([0-9]*\).*/\1/p' <<<"$out")
	replies=$(sed -n 's/.*replies=\([0-9]*\).*/\1/p' <<<"$out")
	[ -n "${udpcpu[$t]}" ] && [ "$replies" -gt 0 ] &&
		cpu=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v n="$replies" 'BEGIN {printf "%.2f", d / hz * 1e6 / n}')
	echo "bench.sh: udp7 $t: $out" >>"$work/udp.log"
	echo "$t udp7 $rate $cpu $rtt" >>"$results"
}

# TCP: the services, and the clients (python3: one file for the kernel's
# servers and the rr and crr clients).
if [ "$tcp" = 1 ]; then
	cat >"$work/tcp.py" <<'PY'
import socket, socketserver, sys, threading, time
mode = sys.argv[1]
if mode == "serve":  # the kernel's echo (7) and discard (9), a thread per connection
    class Echo(socketserver.BaseRequestHandler):
        def handle(self):
            while True:
                b = self.request.recv(65536)
                if not b:
                    return
                self.request.sendall(b)
    class Discard(socketserver.BaseRequestHandler):
        def handle(self):
            while self.request.recv(65536):
                pass
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.daemon_threads = True
    socketserver.ThreadingTCPServer.request_queue_size = 128
    for port, h in ((7, Echo), (9, Discard)):
        srv = socketserver.ThreadingTCPServer(("192.168.69.1", port), h)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()
elif mode == "rr":  # rr COUNT: 1-byte round trips on one connection
    n = int(sys.argv[2])
    s = socket.create_connection(("192.168.69.1", 7))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rtts = []
    t0 = time.perf_counter()
    for i in range(n):
        a = time.perf_counter()
        s.sendall(b"x")
        if s.recv(1) != b"x":
            sys.exit("bad echo")
        rtts.append(time.perf_counter() - a)
    secs = time.perf_counter() - t0
    rtts.sort()
    print("ops=%d rate=%d p50_us=%d" % (n, n / secs, rtts[n // 2] * 1e6))
elif mode == "crr":  # crr SECONDS: 8 threads of connect, 1-byte echo, close
    end = time.perf_counter() + float(sys.argv[2])
    counts = [0] * 8
    def worker(i):
        while time.perf_counter() < end:
            s = socket.create_connection(("192.168.69.1", 7))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(b"x")
            if s.recv(1) != b"x":
                sys.exit("bad echo")
            s.close()
            counts[i] += 1
    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    n = sum(counts)
    print("ops=%d rate=%d" % (n, n / (time.perf_counter() - t0)))
PY
	start_smolfs "$ns_offload" -offload
	tcptargets=(kernel smolfs offload)
	client[offload]=$ns_offload
	declare -A tcpcpu=([kernel]="" [smolfs]=${cpupids[smolfs]} [offload]=$started_pid)
	for t in smolfs offload; do
		ns=${client[$t]}
		for svc in echo discard; do
			ip netns exec "$ns" "$smolfs" listen -addr "unix:$work/$ns.sock" -quiet -service $svc \
				"tcp!*!$([ $svc = echo ] && echo 7 || echo 9)" 2>>"$work/tcplisten.$t.log" &
			pids+=("$!")
			tcpcpu[$t]="${tcpcpu[$t]} $!"
		done
	done
	ip netns exec "$ns_host_k" python3 "$work/tcp.py" serve >"$work/tcpserve.log" 2>&1 &
	pids+=("$!")
	tcpcpu[kernel]=$!
	for t in "${tcptargets[@]}"; do
		ok=0
		for _ in $(seq 200); do
			if ip netns exec "${client[$t]}" python3 -c 'import socket; socket.create_connection(("192.168.69.1", 7), 0.3).close()' 2>/dev/null; then
				ok=1
				break
			fi
			sleep 0.05
		done
		[ "$ok" = 1 ] || die "$t does not accept TCP connections on port 7"
	done
	for ns in "$ns_client_k" "$ns_smolfs" "$ns_offload"; do
		ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65535"
	done
fi

# run_tcp TARGET TEST: one TCP test; appends "TARGET TEST RATE CPU P50".
run_tcp() {
	local t=$1 test=$2 ns=${client[$1]} out t0 t1 secs bytes rate cpu="-" p50="-" ops
	# shellcheck disable=SC2086
	t0=$(ticks ${tcpcpu[$t]})
	case $test in
	bulk)
		bytes=$((count * 2000 / 65536 * 65536))
		local b0 b1
		b0=$(date +%s%N)
		ip netns exec "$ns" sh -c "dd if=/dev/zero bs=65536 count=$((bytes / 65536)) 2>/dev/null | nc -N 192.168.69.1 9" ||
			die "tcp bulk $t: nc failed"
		b1=$(date +%s%N)
		secs=$(awk -v a="$b0" -v b="$b1" 'BEGIN {printf "%.6f", (b - a) / 1e9}')
		rate=$(awk -v n="$bytes" -v s="$secs" 'BEGIN {printf "%.2f", n * 8 / s / 1e9}')
		ops=$((bytes / 1000000))
		;;
	rr | crr)
		local arg=$((count / 5))
		[ "$test" = crr ] && arg=5
		out=$(ip netns exec "$ns" python3 "$work/tcp.py" "$test" "$arg" 2>&1) || die "tcp $test $t: $out"
		rate=$(sed -n 's/.*rate=\([0-9]*\).*/\1/p' <<<"$out")
		ops=$(sed -n 's/.*ops=\([0-9]*\).*/\1/p' <<<"$out")
		p50=$(sed -n 's/.*p50_us=\([0-9]*\).*/\1/p' <<<"$out")
		[ -n "$p50" ] || p50="-"
		;;
	esac
	# shellcheck disable=SC2086
	t1=$(ticks ${tcpcpu[$t]})
	[ -n "${tcpcpu[$t]}" ] && [ "$ops" -gt 0 ] &&
		cpu=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v n="$ops" -v ms="$([ "$test" = bulk ] && echo 1 || echo 0)" \
			'BEGIN {printf "%.2f", d / hz * (ms ? 1e3 : 1e6) / n}')
	echo "$t tcp$test $rate $cpu $p50" >>"$results"
}

echo "bench.sh: targets ${targets[*]}; $rounds rounds of ${#tests[@]} tests of $count requests$([ "$udp" = 1 ] && echo ' and the UDP tests')$([ "$tcp" = 1 ] && echo ' and the TCP tests'); load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
order=("${targets[@]}")
uorder=(kernel smolfs)
for r in $(seq "$rounds"); do
	for test in "${tests[@]}"; do
		for t in "${order[@]}"; do
			run "$t" "$test"
		done
	done
	if [ "$udp" = 1 ]; then
		for t in "${uorder[@]}"; do
			run_udp9 "$t"
		done
		for t in "${uorder[@]}"; do
			run_udp7 "$t"
		done
		uorder=("${uorder[1]}" "${uorder[0]}")
	fi
	if [ "$tcp" = 1 ]; then
		for test in bulk rr crr; do
			for t in "${tcptargets[@]}"; do
				run_tcp "$t" "$test"
			done
		done
		tcptargets=("${tcptargets[2]}" "${tcptargets[1]}" "${tcptargets[0]}")
	fi
	echo "bench.sh: round $r of $rounds done" >&2
	rev=()
	for ((i = ${#order[@]} - 1; i >= 0; i--)); do
		rev+=("${order[$i]}")
	done
	order=("${rev[@]}")
done

# median COLUMN TARGET TEST: the median of a results column ("-" if none).
median() {
	awk -v c="$1" -v t="$2" -v x="$3" '$1 == t && $2 == x && $c != "-" {print $c}' "$results" | sort -g |
		awk '{a[NR] = $1} END {if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a != "-" && b != "-" && b > 0) printf "%.2f", a / b; else print "-"}'; }
# commas N: N with thousands separators, whatever the locale.
commas() { awk -v n="$1" 'BEGIN {n = sprintf("%d", n); s = ""; while (length(n) > 3) {s = "," substr(n, length(n) - 2) s; n = substr(n, 1, length(n) - 3)}; print n s}'; }

[ "${#tests[@]}" = 0 ] || {
	echo
	echo "smolfs bench: medians over $rounds round(s) of $count requests per test; CPU: the server's (and its readers') per reply"
	echo "test       target      replies/s  :kernel  CPU µs/reply  rtt µs"
}
for test in "${tests[@]}"; do
	case $test in
	icmp64) label="icmp K=64" ;;
	icmp1) label="icmp K=1" ;;
	arp64) label="arp K=64" ;;
	icmp6) label="icmp6 K=64" ;;
	esac
	base=$(median 3 kernel "$test")
	for t in "${targets[@]}"; do
		rate=$(median 3 "$t" "$test")
		rtt="-"
		[ "$test" = icmp1 ] && rtt=$(median 5 "$t" "$test")
		printf '%-10s %-8s %12s %8s %13s %7s\n' "$label" "$t" "$(commas "$rate")" \
			"$(ratio "$rate" "$base")" "$(median 4 "$t" "$test")" "$rtt"
	done
done

if [ "$udp" = 1 ]; then
	echo
	echo "UDP, $udpsize-byte datagrams, medians over $rounds round(s); CPU: smolfs serve's and listen's per datagram"
	echo "test                  target   datagrams/s  :kernel  CPU µs/dgram  rtt p50 µs  ended by"
	for test in udp9 udp7; do
		base=$(median 3 kernel "$test")
		for t in "${udptargets[@]}"; do
			rate=$(median 3 "$t" "$test")
			if [ "$test" = udp9 ]; then
				label="udp9 loss-free rate"
				rtt="-"
				ended=$(awk -v t="$t" '$1 == t && $2 == "udp9" {print $6}' "$results" | sort | uniq -c | awk '{printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1}')
			else
				label="udp7 echo K=1"
				rtt=$(median 5 "$t" "$test")
				ended="-"
			fi
			printf '%-21s %-8s %12s %8s %13s %11s  %s\n' "$label" "$t" "$(commas "$rate")" \
				"$(ratio "$rate" "$base")" "$(median 4 "$t" "$test")" "$rtt" "$ended"
		done
	done
fi

if [ "$tcp" = 1 ]; then
	echo
	echo "TCP from the kernel's client, medians over $rounds round(s); CPU: smolfs serve's and its listens' (kernel: its python server's)"
	echo "test       target     rate            :kernel  CPU            rr p50 µs"
	for test in bulk rr crr; do
		base=$(median 3 kernel "tcp$test")
		for t in kernel smolfs offload; do
			rate=$(median 3 "$t" "tcp$test")
			case $test in
			bulk) r="$rate Gbit/s" c="$(median 4 "$t" tcpbulk) ms/MB" ;;
			rr) r="$(commas "$rate")/s" c="$(median 4 "$t" tcprr) µs/tr" ;;
			crr) r="$(commas "$rate") conn/s" c="$(median 4 "$t" tcpcrr) µs/conn" ;;
			esac
			printf '%-10s %-10s %-15s %7s  %-14s %s\n' "tcp $test" "$t" "$r" "$(ratio "$rate" "$base")" "$c" \
				"$([ "$test" = rr ] && median 5 "$t" tcprr || echo -)"
		done
	done
fi

status=0
if [ "$readers" = 1 ]; then
	echo
	for test in icmp64 arp64 icmp6; do
		echo "with two readers attached, $test: $(ratio "$(median 3 readers "$test")" "$(median 3 smolfs "$test")") of the rate without"
	done
	# Capture drops at a rate a reader must keep up with.
	counter() {
		ip netns exec "$ns_readers" "$smolfs" 9p -addr "unix:$work/$ns_readers.sock" read tap0/stats |
			awk -v k="$1" '$1 == k {print $2}'
	}
	d0=$(counter capture_dropped)
	out=$(ip netns exec "$ns_readers" "$arpflood" -i tap0 -target 192.168.69.1 -senders 1 \
		-window 0 -rate 5000 -count 50000 -duration 12s 2>&1) || die "drop check: arpflood: $out"
	sleep 0.1
	d1=$(counter capture_dropped)
	echo "capture at 10,000 frames/s for 10 s ($out):"
	if [ "$((d1 - d0))" = 0 ]; then
		echo "  capture_dropped +0 with a frames and a frames.pcap reader: ok"
	else
		echo "  capture_dropped +$((d1 - d0)) with a frames and a frames.pcap reader: FAIL"
		status=1
	fi
fi

nb=$(cd .. && pwd)/shared/netbench
if [ -x "$nb/run" ]; then
	cat <<EOF

For the full table (netbench's reflector and gVisor too), as root:
  go build -o /tmp/smolfs $top/cmd/smolfs
  cd $nb && ./run -wait-idle 30s -rounds 3 \\
    -target '/tmp/smolfs serve -host "\$TAP",ea=02:00:00:00:00:01,ip=192.168.69.1/24' -target-name smolfs \\
    -target '$top/scripts/serve-with-readers.sh /tmp/smolfs "\$TAP"' -target-name readers
and with the TCP tests (echo and discard through smolfs listen):
  cd $nb && ./run -wait-idle 30s -rounds 3 -tests all \\
    -target '$top/scripts/serve-tcp-services.sh /tmp/smolfs "\$TAP"' -target-name smolfs \\
    -target '$top/scripts/serve-tcp-services.sh /tmp/smolfs "\$TAP" -offload' -target-name offload
EOF
fi
exit "$status"
