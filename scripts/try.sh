#!/usr/bin/env bash
# usage: scripts/try.sh [-n NAMESPACE] [-c COMMAND]
#
# Try smolfs by hand without touching this machine's network: makes a network
# namespace (default smolfs-try) with a tap device tap0 whose kernel side is
# 192.168.69.100/24, runs `smolfs serve` on it there (192.168.69.1,
# 02:00:00:00:00:01, 9P on the namespace's 127.0.0.1:5640), and opens a shell
# in the namespace with a note of what to try. Leaving the shell stops smolfs
# and removes the namespace.
#
#   -n NAMESPACE  the namespace to make (it must not exist yet)
#   -c COMMAND    run COMMAND with bash -c in the namespace instead of a shell,
#                 and exit with its status (for scripts and tests)
#
# Needs root and iproute2. The binary is built from this checkout with go,
# unless SMOLFS_BIN names one already built.
set -euo pipefail

usage() {
	echo "usage: scripts/try.sh [-n NAMESPACE] [-c COMMAND]" >&2
	exit 2
}

ns=smolfs-try
cmd=""
interactive=1
while [ $# -gt 0 ]; do
	case $1 in
	-n)
		[ $# -ge 2 ] || usage
		ns=$2
		shift 2
		;;
	-c)
		[ $# -ge 2 ] || usage
		cmd=$2
		interactive=0
		shift 2
		;;
	-h | --help)
		sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) usage ;;
	esac
done

die() {
	echo "try.sh: $*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || die "needs root for the network namespace and the tap device: sudo $0"
command -v ip >/dev/null || die "ip not found: apt-get install iproute2"
# sudo's secure_path usually leaves out Go's default install location.
command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
# The shell is for poking at smolfs with the kernel's tools: on Debian or
# Ubuntu, install the ones that are missing.
need=()
command -v ping >/dev/null || need+=(iputils-ping)
command -v arping >/dev/null || need+=(iputils-arping)
command -v tcpdump >/dev/null || need+=(tcpdump)
if [ ${#need[@]} -gt 0 ] && command -v apt-get >/dev/null; then
	echo "try.sh: installing ${need[*]}" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2 ||
		echo "try.sh: could not install ${need[*]}; carrying on without" >&2
fi
case $ns in
"" | */* | .*) die "bad namespace name '$ns'" ;;
esac
[ ! -e "/run/netns/$ns" ] || die "namespace $ns exists: is another try.sh running? If not, remove it with: ip netns del $ns"

top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/smolfs-try.XXXXXX)
pid=""
made=0

cleanup() {
	local status=$?
	trap - EXIT INT TERM
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	[ "$made" = 0 ] || ip netns del "$ns" 2>/dev/null || true
	rm -rf "$work"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -n "${SMOLFS_BIN:-}" ]; then
	[ -x "$SMOLFS_BIN" ] || die "SMOLFS_BIN=$SMOLFS_BIN is not an executable"
	cp "$SMOLFS_BIN" "$work/smolfs"
else
	command -v go >/dev/null || die "go not found: install Go, or build smolfs elsewhere and set SMOLFS_BIN=/path/to/smolfs"
	(cd "$top" && go build -o "$work/smolfs" ./cmd/smolfs) || die "building smolfs failed"
fi

ip netns add "$ns"
made=1
ip -n "$ns" link set lo up
# The kernel side would send IPv6 router solicitations and MLD reports;
# without them the frames you watch are the ones you caused.
ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
# A persistent tap can be configured before smolfs attaches to it.
ip -n "$ns" tuntap add dev tap0 mode tap
ip -n "$ns" addr add 192.168.69.100/24 dev tap0
ip -n "$ns" link set tap0 up

log=$work/serve.log
ip netns exec "$ns" "$work/smolfs" serve 2>"$log" &
pid=$!
for _ in $(seq 1200); do # a minute: only a hang ends this wait
	grep -q 'msg=ready' "$log" && break
	kill -0 "$pid" 2>/dev/null || {
		cat "$log" >&2
		die "smolfs serve exited"
	}
	sleep 0.05
done
grep -q 'msg=ready' "$log" || {
	cat "$log" >&2
	die "smolfs serve did not get ready in a minute"
}

# tap0's link was up before smolfs attached: the kernel makes it work (its
# operstate up, a real queue instead of one that drops everything) from a
# work queue, a moment after the attach.
for _ in $(seq 600); do
	[ "$(ip netns exec "$ns" cat /sys/class/net/tap0/operstate)" = up ] && break
	sleep 0.1
done

path=$work:$PATH
if [ "$interactive" = 0 ]; then
	set +e
	ip netns exec "$ns" env PATH="$path" bash -c "$cmd"
	exit $?
fi

cat >"$work/bashrc" <<EOF
[ -f ~/.bashrc ] && . ~/.bashrc
PS1='[$ns] \w\\$ '
cat <<'NOTE'

smolfs serves tap0 (02:00:00:00:00:01, 192.168.69.1/24) in network namespace $ns,
with 9P on 127.0.0.1:5640 there. The kernel's side of tap0 is 192.168.69.100/24.
Things to try in this shell:

  ping 192.168.69.1
  arping -I tap0 192.168.69.1
  ip neigh                               # the kernel learned 02:00:00:00:00:01
  smolfs dump tap0                       # every frame, as tcpdump prints it
  tcpdump -n -e -i tap0                  # the same, from tcpdump
  smolfs 9p read tap0/frames             # the same, from smolfs's own frames file
  smolfs 9p read tap0/arp                # smolfs's ARP cache
  echo 'add 192.168.69.2/24' | smolfs 9p write tap0/ctl
  sysctl -qw net.ipv6.conf.tap0.disable_ipv6=0; echo 'ipv6 on' | smolfs 9p write tap0/ctl
  ping -6 fe80::ff:fe00:1%tap0           # IPv6 (off on both sides until then)
  mkdir -p /mnt/smol && smolfs mount /mnt/smol && cat /mnt/smol/tap0/arp
                                         # needs a kernel with 9p (modprobe 9p 9pnet_fd)

A second shell in the namespace: sudo ip netns exec $ns bash
smolfs's log: tail -f $log
Leave with exit or Ctrl-D: smolfs stops and the namespace is removed.

NOTE
EOF
set +e
ip netns exec "$ns" env PATH="$path" bash --rcfile "$work/bashrc" -i
exit $?
