#!/usr/bin/env bash
# usage: scripts/e2e-v9fs.sh [-h] [-keep]
#
# End to end with the real Linux 9P client (v9fs): builds ./cmd/smolfs, runs
# `smolfs serve` in a network namespace of its own on tap0 (kernel side
# 192.168.69.100/24, pinging the host all along), and mounts the tree with
# v9fs twice, with Linux's default options (9P2000.L) and with
# version=9p2000, running the same shell script against each mount: ls, addr,
# ctl writes good and bad, arp, stats, host creation, `timeout 3 cat frames`,
# `head -n 3 frames`, a UDP conversation held by a shell's file descriptor
# (clone, connect, data to and from a kernel echo peer, gone at close), TCP
# conversations the same way (an HTTP request to the kernel's python
# http.server, `cat data` to the end; Connection refused, No route to host
# and Connection timed out as errnos; an interrupted data read), IPv6
# (`echo 'ipv6 on' > tap0/ctl`, `cat tap0/addr` until its link-local address
# is through DAD, and `cat tap0/arp` once the kernel, which pings that
# address all along too, is in it beside its IPv4 entry), and frames.pcap,
# which is checked on this side with tcpdump against the frames lines read
# at the same time.
#
# The client is ../shared/v9fs-vm/v9fs-vm (or $V9FS_VM): a qemu guest whose
# kernel has 9P, run inside the namespace so that the guest's 10.0.2.2 is the
# namespace's loopback; it is looked for beside the checkout and in
# /work/shared. Without it, the local kernel mounts if it has 9p; otherwise
# the script prints SKIP and exits 0, in CI too: that tool is not part of
# the project, and a machine without it cannot run this test.
# Needs root (namespaces, taps), ip, ping, arping, tcpdump and python3.
#
#   SMOLFS_BIN=path   use this smolfs binary instead of building one
#   -keep             keep the work directory (logs, captures) and say where
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

keep=0
case "${1:-}" in
-h | --help)
	sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
-keep) keep=1 ;;
"") ;;
*)
	echo "usage: scripts/e2e-v9fs.sh [-h] [-keep]" >&2
	exit 2
	;;
esac

skip() {
	if [ "${SMOLFS_REQUIRE_ALL:-}" = 1 ]; then
		echo "FAIL (required in CI, SMOLFS_REQUIRE_ALL=1): $*" >&2
		exit 1
	fi
	echo "SKIP: $*"
	exit 0
}
die() {
	echo "e2e-v9fs: FAIL: $*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || skip "needs root: network namespaces and tap devices"
for tool in ip ping arping tcpdump python3 go; do
	command -v "$tool" >/dev/null || skip "$tool not found (apt-get install iproute2 iputils-ping iputils-arping tcpdump)"
done

# The 9P client: the qemu guest, or this machine's kernel.
vm=${V9FS_VM:-}
if [ -z "$vm" ]; then
	for c in "$repo/../shared/v9fs-vm/v9fs-vm" /work/shared/v9fs-vm/v9fs-vm; do
		[ -x "$c" ] && vm=$c && break
	done
fi
if [ -n "$vm" ] && [ -x "$vm" ]; then
	kind=vm
	# The guest runs inside the test namespace, which has no way out: what
	# v9fs-vm installs and downloads on first use (qemu, a kernel) is
	# fetched now, before anything enters that namespace.
	# (Without scripts/test.sh's run marker: what an install starts is not
	# this script's to end.)
	env -u SMOLFS_TEST_RUN "$vm" --prepare || die "v9fs-vm --prepare failed (it installs qemu-system-x86 and fetches a kernel on first use)"
elif grep -qw 9p /proc/filesystems 2>/dev/null || modprobe 9p 2>/dev/null; then
	kind=local
else
	echo "SKIP: no 9P client: no v9fs-vm (../shared/v9fs-vm/v9fs-vm beside the checkout, or \$V9FS_VM) and no 9p in this kernel"
	exit 0
fi

work=$(mktemp -d /tmp/smolfs-e2e.XXXXXX)
# scripts/test.sh's run marker in the name tells its leftovers from others'.
ns=smolfs-e2e-${SMOLFS_TEST_RUN:+$SMOLFS_TEST_RUN-}$$
# The pids of what runs in the background. ip netns exec execs its command
# in place, so $! after `ip netns exec NS CMD &` is CMD itself; after
# `nsx CMD &` it would be a subshell running the function, and a kill would
# miss CMD.
smolfs_pid=
pinger_pid=
echo_pid=
pinger6_pid=
http_pid=
tcpecho_pid=
client_pid=
cleanup() {
	set +e
	# The client first: v9fs-vm stops its qemu on SIGTERM.
	for p in "$client_pid" "$pinger_pid" "$echo_pid" "$pinger6_pid" "$http_pid" "$tcpecho_pid"; do
		[ -n "$p" ] || continue
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ -n "$smolfs_pid" ]; then
		kill -TERM "$smolfs_pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$smolfs_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$smolfs_pid" 2>/dev/null
		wait "$smolfs_pid" 2>/dev/null
	fi
	ip netns del "$ns" 2>/dev/null
	if [ "$keep" = 1 ]; then
		echo "e2e-v9fs: work directory kept: $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# smolfs itself.
if [ -n "${SMOLFS_BIN:-}" ]; then
	bin=$SMOLFS_BIN
else
	[ -d cmd/smolfs ] || die "cmd/smolfs does not exist yet: nothing to test"
	bin=$work/smolfs
	go build -o "$bin" ./cmd/smolfs
fi

# client CMD...: runs CMD in the namespace and waits for it, its pid in
# client_pid meanwhile, so that cleanup ends it if the script is stopped.
client() {
	ip netns exec "$ns" "$@" &
	client_pid=$!
	local rc=0
	wait "$client_pid" || rc=$?
	client_pid=
	return $rc
}

# The namespace: tap0 made beforehand, its kernel side the peer.
ip netns add "$ns"
nsx() { ip netns exec "$ns" "$@"; }
nsx ip link set lo up
nsx ip tuntap add dev tap0 mode tap
# IPv6 on, but no DAD or router solicitations: only the frames the test makes.
nsx sysctl -qw net.ipv6.conf.tap0.accept_dad=0 net.ipv6.conf.tap0.router_solicitations=0
nsx ip addr add 192.168.69.100/24 dev tap0
nsx ip link set tap0 up

port=5640
# -tcp-syn-retries 2: a TCP connect nobody answers times out in 7 s.
ip netns exec "$ns" "$bin" serve -listen 127.0.0.1:$port -host tap0,ea=02:00:00:00:00:01,ip=192.168.69.1/24 -tcp-syn-retries 2 \
	>"$work/smolfs.out" 2>"$work/smolfs.log" &
smolfs_pid=$!
# The bounds on waits for what must happen (the server answers, the host
# replies) only end a run that would otherwise hang: a minute, which no load
# on the machine reaches.
served=0
for _ in $(seq 600); do
	kill -0 "$smolfs_pid" 2>/dev/null || break
	if nsx bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
		served=1
		break
	fi
	sleep 0.1
done
if [ "$served" != 1 ]; then
	cat "$work/smolfs.log" >&2
	die "smolfs serve does not answer on 127.0.0.1:$port in the namespace (its log is above)"
fi

# tap0's link was up before smolfs attached: the kernel makes it work (its
# operstate up, a real queue instead of one that drops everything) from a
# work queue, a moment after the attach.
for _ in $(seq 600); do
	[ "$(nsx cat /sys/class/net/tap0/operstate)" = up ] && break
	sleep 0.1
done
[ "$(nsx cat /sys/class/net/tap0/operstate)" = up ] || die "tap0 is not operational a minute after smolfs attached to it"

# The peer: one ARP exchange, then a ping every 0.2 s for the whole run.
nsx arping -q -c 1 -w 60 -I tap0 192.168.69.1 || die "the host does not answer arping"
ip netns exec "$ns" ping -q -i 0.2 192.168.69.1 >/dev/null 2>&1 &
pinger_pid=$!
# A UDP echo peer on the kernel's side, port 9000, for the guest's
# conversation: one process, every peer (ip netns exec execs it in place, so
# $! is the process itself).
ip netns exec "$ns" python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.168.69.100", 9000))
while True:
    s.sendto(*s.recvfrom(65535))' &
echo_pid=$!
# And over IPv6, to the link-local address the host has once the guest
# turns IPv6 on; unanswered until then.
ip netns exec "$ns" ping -6 -q -i 0.2 fe80::ff:fe00:1%tap0 >/dev/null 2>&1 &
pinger6_pid=$!
# TCP peers: python's http.server on port 8000 serving a file, and an echo
# server on port 9001 (a thread per connection).
mkdir -p "$work/www"
seq 1 20000 >"$work/www/numbers.txt"
ip netns exec "$ns" python3 -m http.server --bind 192.168.69.100 --directory "$work/www" 8000 >"$work/http.log" 2>&1 &
http_pid=$!
ip netns exec "$ns" python3 -c 'import socketserver
class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            b = self.request.recv(65536)
            if not b:
                return
            self.request.sendall(b)
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer.daemon_threads = True
socketserver.ThreadingTCPServer(("192.168.69.100", 9001), Echo).serve_forever()' &
tcpecho_pid=$!
for _ in $(seq 100); do
	nsx ss -Hltn | grep -q '192.168.69.100:8000' && nsx ss -Hltn | grep -q '192.168.69.100:9001' && break
	sleep 0.1
done

# Where /dev/kvm is there but qemu cannot use it (a nested VM refusing a
# CPU register, say), the guest boots with TCG instead: the test is of the
# 9P server, not of the machine's KVM.
vm_args=()
if [ "$kind" = vm ] && [ -w /dev/kvm ] && ! client "$vm" --no-mount --timeout 60 -- true >/dev/null 2>"$work/kvm.err"; then
	echo "e2e-v9fs: the guest does not boot with KVM here ($(grep -m 1 -v '^$' "$work/kvm.err")); using TCG"
	vm_args=(--no-kvm)
fi

# The guest's script: busybox sh in cwd = the mount.
cat >"$work/guest.sh" <<'GUEST'
set -u
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

ls >/tmp/ls || fail "ls failed"
for f in ctl log tap0; do grep -qx "$f" /tmp/ls || fail "ls shows $(cat /tmp/ls | tr '\n' ' '), no $f"; done
ls tap0 >/tmp/ls || fail "ls tap0 failed"
for f in ctl addr arp frames frames.pcap stats; do grep -qx "$f" /tmp/ls || fail "ls tap0 lacks $f"; done
ok "ls: $(ls | tr '\n' ' ')/ tap0: $(ls tap0 | tr '\n' ' ')"

cat tap0/addr >/tmp/addr || fail "cat tap0/addr failed"
[ "$(head -n 1 /tmp/addr)" = 02:00:00:00:00:01 ] || fail "addr starts $(head -n 1 /tmp/addr)"
grep -qx 192.168.69.1/24 /tmp/addr || fail "addr lacks 192.168.69.1/24: $(cat /tmp/addr)"
ok "cat tap0/addr: $(cat /tmp/addr | tr '\n' ' ')"

# The same hosts serve both mounts: start from the first one's start.
if grep -qx 192.168.69.2/24 tap0/addr; then echo 'remove 192.168.69.2/24' >tap0/ctl || fail "cleaning up"; fi
echo 'add 192.168.69.2/24' >tap0/ctl || fail "echo 'add 192.168.69.2/24' > tap0/ctl failed"
grep -qx 192.168.69.2/24 tap0/addr || fail "192.168.69.2/24 not in addr after adding it"
ok "echo 'add 192.168.69.2/24' > tap0/ctl, and addr shows it"

cat tap0/ctl >/tmp/before
if echo frob >tap0/ctl 2>/tmp/err; then fail "echo frob > tap0/ctl succeeded"; fi
grep -q 'Invalid argument' /tmp/err || fail "a bad ctl write said: $(cat /tmp/err)"
if echo 'add 192.168.69.3/24
add 300.1.1.1/24' >tap0/ctl 2>/tmp/err2; then fail "a write with a bad second line succeeded"; fi
grep -q 'Invalid argument' /tmp/err2 || fail "a bad second line said: $(cat /tmp/err2)"
cat tap0/ctl | cmp -s - /tmp/before || fail "failed writes changed ctl: $(cat tap0/ctl)"
ok "bad ctl writes fail ($(cat /tmp/err)) and change nothing"

cat tap0/ctl >/tmp/saved
echo 'mtu 1400' >tap0/ctl || fail "mtu write failed"
cat /tmp/saved >tap0/ctl || fail "writing the saved ctl back failed"
cat tap0/ctl | cmp -s - /tmp/saved || fail "cat ctl > f; cat f > ctl did not restore: $(cat tap0/ctl)"
ok "cat tap0/ctl > f; cat f > tap0/ctl restores"

cat tap0/arp >/tmp/arp || fail "cat tap0/arp failed"
grep -q '^192\.168\.69\.100 [0-9a-f:]* reachable [0-9]*$' /tmp/arp || fail "arp lacks the peer: $(cat /tmp/arp)"
ok "cat tap0/arp: $(cat /tmp/arp)"

grep -q '^icmp_echo_rx [1-9]' tap0/stats || fail "stats: $(cat tap0/stats | tr '\n' ' ')"
ok "stats count the pings: $(grep -E '^(icmp_echo_rx|icmp_echo_tx|capture_dropped) ' tap0/stats | tr '\n' ' ')"

timeout 3 cat tap0/frames >/tmp/frames.txt
grep -q 'ICMP echo request' /tmp/frames.txt || fail "timeout 3 cat tap0/frames: $(head -n 3 /tmp/frames.txt)"
cat tap0/addr >/dev/null || fail "the mount no longer works after timeout 3 cat tap0/frames"
ok "timeout 3 cat tap0/frames: $(wc -l </tmp/frames.txt) lines, the mount still works"

timeout 10 head -n 3 tap0/frames >/tmp/head.txt || fail "head -n 3 tap0/frames did not return"
[ "$(wc -l </tmp/head.txt)" = 3 ] || fail "head -n 3 gave $(wc -l </tmp/head.txt) lines"
ok "head -n 3 tap0/frames returns"

echo 'new tap1' >ctl || fail "echo 'new tap1' > ctl failed"
ls tap1 >/dev/null || fail "no tap1 directory after creating it"
# tap1's kernel side is down: nothing arrives, and timeout must still end cat.
start=$(date +%s)
timeout 1 cat tap1/frames >/dev/null
took=$(($(date +%s) - start))
[ "$took" -le 30 ] || fail "timeout 1 cat tap1/frames on an idle host took $took s"
cat tap1/addr >/dev/null || fail "the mount no longer works after interrupting an idle reader"
echo 'del tap1' >ctl || fail "echo 'del tap1' > ctl failed"
if ls tap1 >/dev/null 2>&1; then fail "tap1 still there after del"; fi
ok "hosts created and removed through /ctl; timeout ends a reader of an idle host"

timeout 1 cat log >/tmp/log
grep -q 'tap0/ctl: line 1: "frob": unknown command' /tmp/log || fail "log lacks the failed write: $(tail -n 3 /tmp/log)"
ok "log has the full reason of the failed write"

# A UDP conversation as on Plan 9: fd 3 holds it open; data moves one
# datagram per read and per write; the kernel's echo peer answers.
ls tap0 | grep -qx udp || fail "ls tap0 has no udp"
exec 3<>tap0/udp/clone || fail "exec 3<>tap0/udp/clone failed"
read -r n <&3 || fail "reading the conversation's number from fd 3 failed"
case "$n" in '' | *[!0-9]*) fail "tap0/udp/clone read '$n', not a number" ;; esac
echo 'connect 192.168.69.100!9000' >&3 || fail "writing connect to fd 3 failed"
grep -qx '192.168.69.100!9000' tap0/udp/$n/remote || fail "udp/$n/remote: $(cat tap0/udp/$n/remote)"
grep -q '^Open ' tap0/udp/$n/status || fail "udp/$n/status: $(cat tap0/udp/$n/status)"
echo "hello over v9fs" >tap0/udp/$n/data || fail "writing a datagram to udp/$n/data failed"
got=$(timeout 30 head -n 1 tap0/udp/$n/data) || fail "reading the echo from udp/$n/data failed"
[ "$got" = "hello over v9fs" ] || fail "udp/$n/data read '$got'"
timeout 1 cat tap0/udp/$n/data >/dev/null # a read that waits, interrupted
grep -q '^Open ' tap0/udp/$n/status || fail "the mount no longer works after interrupting a data read"
ls tap0/udp | grep -qx "$n" || fail "conversation $n is not listed while fd 3 holds it"
if echo 'connect nowhere' >&3 2>/tmp/err; then fail "a bad connect succeeded"; fi
grep -q 'Invalid argument' /tmp/err || fail "a bad connect said: $(cat /tmp/err)"
grep -q 'bad address' tap0/udp/$n/err || fail "udp/$n/err: $(cat tap0/udp/$n/err)"
exec 3<&-
if ls tap0/udp | grep -qx "$n"; then fail "conversation $n is still there after fd 3 closed"; fi
ok "udp: exec 3<>tap0/udp/clone gave $n; connect, a datagram echoed through data; gone when fd 3 closed"

# TCP the same way: an HTTP/1.0 request to the kernel's http.server through
# data, and `cat data` to the end of the stream.
ls tap0 | grep -qx tcp || fail "ls tap0 has no tcp"
exec 3<>tap0/tcp/clone || fail "exec 3<>tap0/tcp/clone failed"
read -r n <&3 || fail "reading the conversation's number from fd 3 failed"
echo 'connect 192.168.69.100!8000' >&3 || fail "connect 192.168.69.100!8000 failed"
grep -q '^Established ' tap0/tcp/$n/status || fail "tcp/$n/status: $(cat tap0/tcp/$n/status)"
grep -qx '192.168.69.100!8000' tap0/tcp/$n/remote || fail "tcp/$n/remote: $(cat tap0/tcp/$n/remote)"
printf 'GET /numbers.txt HTTP/1.0\r\n\r\n' >tap0/tcp/$n/data || fail "writing the request to tcp/$n/data failed"
timeout 60 cat tap0/tcp/$n/data >/tmp/http.out || fail "cat tap0/tcp/$n/data did not end with the stream"
head -n 1 /tmp/http.out | grep -q '^HTTP/1.0 200 OK' || fail "the answer starts: $(head -n 1 /tmp/http.out)"
sed '1,/^\r$/d' /tmp/http.out >/tmp/body
[ "$(wc -l </tmp/body)" = 20000 ] && [ "$(tail -n 1 /tmp/body)" = 20000 ] || fail "the body has $(wc -l </tmp/body) lines, ends $(tail -n 1 /tmp/body)"
exec 3<&-
ok "tcp: exec 3<>tap0/tcp/clone gave $n; connect, GET through data, cat data to the end: $(wc -c </tmp/http.out) bytes"

exec 3<>tap0/tcp/clone || fail "exec 3<>tap0/tcp/clone failed"
read -r n <&3
if echo 'connect 192.168.69.100!8001' >&3 2>/tmp/err; then fail "a connect to a closed port succeeded"; fi
grep -q 'Connection refused' /tmp/err || fail "a connect to a closed port said: $(cat /tmp/err)"
grep -q 'connection refused' tap0/tcp/$n/err || fail "tcp/$n/err: $(cat tap0/tcp/$n/err)"
exec 3<&-
exec 3<>tap0/tcp/clone || fail "exec 3<>tap0/tcp/clone failed"
read -r n <&3
if echo 'connect 192.168.69.7!80' >&3 2>/tmp/err; then fail "a connect to a silent neighbour succeeded"; fi
grep -q 'No route to host' /tmp/err || fail "a connect to a silent neighbour said: $(cat /tmp/err)"
exec 3<&-
# A neighbour whose frames nobody takes: the SYN's retransmissions run out.
echo 'add 192.168.69.50 02:00:00:00:00:50' >tap0/arp || fail "adding a static ARP entry failed"
exec 3<>tap0/tcp/clone || fail "exec 3<>tap0/tcp/clone failed"
read -r n <&3
if echo 'connect 192.168.69.50!80' >&3 2>/tmp/err2; then fail "a connect to a black hole succeeded"; fi
grep -q 'Connection timed out' /tmp/err2 || fail "a connect to a black hole said: $(cat /tmp/err2)"
exec 3<&-
echo 'del 192.168.69.50' >tap0/arp
ok "tcp: connect says $(cat /tmp/err | sed 's/.*: //') for a silent neighbour, $(cat /tmp/err2 | sed 's/.*: //') for a black hole, Connection refused for a closed port"

# Ctrl-C of a data read that waits: the mount, the host and the connection
# go on working.
exec 3<>tap0/tcp/clone || fail "exec 3<>tap0/tcp/clone failed"
read -r n <&3
echo 'connect 192.168.69.100!9001' >&3 || fail "connect to the echo server failed"
timeout -s INT 1 cat tap0/tcp/$n/data >/dev/null
grep -q '^Established ' tap0/tcp/$n/status || fail "after an interrupted read: $(cat tap0/tcp/$n/status)"
echo 'still here' >tap0/tcp/$n/data || fail "writing after an interrupted read failed"
got=$(timeout 30 head -n 1 tap0/tcp/$n/data) || fail "reading the echo after an interrupted read failed"
[ "$got" = 'still here' ] || fail "echo after an interrupted read: '$got'"
exec 3<&-
ok "tcp: an interrupted data read leaves the mount and the connection working"
echo 'ipv6 on' >tap0/ctl || fail "echo 'ipv6 on' > tap0/ctl failed"
i=0
until grep -qx 'fe80::ff:fe00:1/64' tap0/addr; do
	i=$((i + 1))
	[ "$i" -le 100 ] || fail "no usable link-local address 10 s after ipv6 on: $(cat tap0/addr | tr '\n' ' ')"
	sleep 0.1
done
ok "echo 'ipv6 on' > tap0/ctl; cat tap0/addr: $(cat tap0/addr | tr '\n' ' ')"
i=0
until grep -q '^fe80::[0-9a-f:]* [0-9a-f:]* [a-z]* [0-9-]*$' tap0/arp && grep -q '^icmp6_echo_rx [1-9]' tap0/stats; do
	i=$((i + 1))
	[ "$i" -le 100 ] || fail "the kernel's pings over IPv6 are not answered: $(cat tap0/arp | tr '\n' ' ')"
	sleep 0.1
done
grep -q '^192\.168\.69\.100 ' tap0/arp || fail "arp lost the IPv4 peer: $(cat tap0/arp)"
ok "cat tap0/arp after the kernel pinged: $(cat tap0/arp | tr '\n' ' ')"

timeout 3 cat tap0/frames.pcap >/tmp/cap.pcap &
p1=$!
timeout 3 cat tap0/frames >/tmp/cap.txt &
p2=$!
wait $p1 $p2
[ "$(head -c 4 /tmp/cap.pcap | od -An -tx1 | tr -d ' \n')" = 4d3cb2a1 ] || fail "frames.pcap does not start with the pcap magic"
cat tap0/stats >/dev/null || fail "the mount no longer works after reading frames.pcap"
echo "=== frames"
cat /tmp/cap.txt
echo "=== pcap"
base64 /tmp/cap.pcap
echo "=== end"
ok "frames.pcap and frames read together"

echo "GUEST OK"
GUEST

# run MOUNT_NAME VM_ARGS...: the guest script against one mount; then the
# pcap check on this side.
run() {
	local name=$1
	shift
	echo "=== e2e-v9fs: $name"
	local out=$work/$name.out rc=0
	if [ "$kind" = vm ]; then
		client "$vm" ${vm_args[@]+"${vm_args[@]}"} --port $port --timeout 120 --dmesg "$@" --script "$work/guest.sh" >"$out" 2>"$work/$name.err" || rc=$?
	else
		# ip netns exec gives the command a mount namespace of its own: mount,
		# run and unmount inside one.
		local dir=$work/mnt-$name opts=trans=tcp,port=$port
		mkdir -p "$dir"
		[ "${1:-}" = --version ] && opts=$opts,version=$2
		client sh -c 'mount -t 9p -o "$1" 127.0.0.1 "$2" || exit 121
			cd "$2" && sh "$3"; rc=$?; cd /; umount "$2"; exit $rc' sh "$opts" "$dir" "$work/guest.sh" \
			>"$out" 2>"$work/$name.err" || rc=$?
		[ "$rc" = 121 ] && die "$name: mount -t 9p -o $opts failed: $(cat "$work/$name.err")"
	fi
	sed -n '/^=== frames$/q;p' "$out"
	if [ "$rc" != 0 ] || ! grep -q '^GUEST OK$' "$out"; then
		cat "$work/$name.err" >&2
		die "$name: the guest script failed (status $rc)"
	fi
	{ grep -v '^Terminated$' "$work/$name.err" || true; } | sed 's/^/  guest stderr: /' | head -n 20
	# The guest kernel complains about a misbehaving server in its log
	# (v9fs-vm --dmesg): a reply to a flushed tag, an unknown error string.
	if grep -Ei '^dmesg: .*(9p|p9_)' "$work/$name.err" >&2; then
		die "$name: the guest kernel logged 9P errors (above)"
	fi
	# frames.pcap through tcpdump must show the frames lines read at the same
	# time: compare where both readers were open.
	sed -n '/^=== frames$/,/^=== pcap$/p' "$out" | sed '1d;$d' >"$work/$name.frames"
	sed -n '/^=== pcap$/,/^=== end$/p' "$out" | sed '1d;$d' | base64 -d >"$work/$name.pcap"
	tcpdump -tt -e -n -r - <"$work/$name.pcap" >"$work/$name.tcpdump" 2>"$work/$name.tcpdump.err" ||
		die "$name: tcpdump cannot read frames.pcap: $(cat "$work/$name.tcpdump.err")"
	local from to
	from=$(for f in "$work/$name.frames" "$work/$name.tcpdump"; do head -n 1 "$f" | awk '{ print $1 }'; done | sort -n | tail -n 1)
	to=$(for f in "$work/$name.frames" "$work/$name.tcpdump"; do tail -n 1 "$f" | awk '{ print $1 }'; done | sort -n | head -n 1)
	awk -v f="$from" -v t="$to" '$1 >= f && $1 <= t' "$work/$name.frames" >"$work/$name.frames.cut"
	awk -v f="$from" -v t="$to" '$1 >= f && $1 <= t' "$work/$name.tcpdump" >"$work/$name.tcpdump.cut"
	local n
	n=$(wc -l <"$work/$name.frames.cut")
	[ "$n" -ge 5 ] || die "$name: only $n frames seen by both frames and frames.pcap"
	if ! diff "$work/$name.frames.cut" "$work/$name.tcpdump.cut" >"$work/$name.diff"; then
		head -n 20 "$work/$name.diff" >&2
		die "$name: frames and tcpdump -r frames.pcap differ (frames <, tcpdump >)"
	fi
	echo "ok: frames.pcap through tcpdump -r shows the same $n frames as frames"
}

run default
run version=9p2000 --version 9p2000
grep -q 'panic\|level=ERROR' "$work/smolfs.log" && {
	grep 'panic\|level=ERROR' "$work/smolfs.log" | head >&2
	die "smolfs logged errors"
}
kill -0 "$smolfs_pid" || die "smolfs died"
echo "e2e-v9fs: PASS (client: $kind; default mount and version=9p2000)"
