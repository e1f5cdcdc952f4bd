#!/usr/bin/env bash
# usage: scripts/test.sh [-quick]
#
# The project's test command: format and vet checks, every Go test with the
# race detector (fuzz seed corpora included), then the end-to-end runs that
# need root: the real Linux v9fs client against smolfs (scripts/e2e-v9fs.sh),
# short fuzzing, a short soak and a fragment flood (scripts/fragflood.sh).
# -quick stops after the Go tests.
#
# Run it as root for the whole suite (network namespaces, tap devices). As
# another user, the tests that need root skip and say why. CI (.ci/run) sets
# SMOLFS_REQUIRE_ALL=1, which turns every such skip into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
case "${1:-}" in
-quick) quick=1 ;;
"") ;;
-h | --help)
	sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "usage: scripts/test.sh [-quick]" >&2
	exit 2
	;;
esac

step() { printf '\n=== %s\n' "$*"; }

# sudo's secure_path usually leaves out Go's default install location.
command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin

# The kernel peers the tests talk to. As root on Debian or Ubuntu, install
# the missing ones; elsewhere the tests that need them say what is missing.
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v ping >/dev/null || need+=(iputils-ping)
command -v arping >/dev/null || need+=(iputils-arping)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v tshark >/dev/null || need+=(tshark)
command -v traceroute >/dev/null || need+=(traceroute)
command -v nft >/dev/null || need+=(nftables)
# IPv6's peers: ndisc6 and rdisc6, radvd, and scapy for raw frames.
command -v ndisc6 >/dev/null || need+=(ndisc6)
command -v radvd >/dev/null || need+=(radvd)
# TCP's peers.
command -v socat >/dev/null || need+=(socat)
command -v nc >/dev/null || need+=(netcat-openbsd)
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
command -v hping3 >/dev/null || need+=(hping3)
/usr/bin/python3 -c 'import scapy.all' 2>/dev/null || need+=(python3-scapy)
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	step "installing ${need[*]}"
	# A mirror or resolver that fails for a moment gets two more tries.
	for attempt in 1 2 3; do
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" && break
		[ $attempt -lt 3 ] || { echo "test.sh: could not install ${need[*]}" >&2; exit 1; }
		echo "test.sh: apt-get failed (try $attempt of 3); again in 10 s" >&2
		sleep 10
	done
fi

# Nothing the suite starts may outlive it. Every process it starts carries
# this run's marker in its environment (go test, ip netns exec, bash, timeout
# and exec pass it on), and the namespaces its tests and scripts make carry
# it in their names; at the end, in an EXIT trap so that a failed or
# interrupted run is checked too, whatever still carries it is listed,
# ended, and fails the run. Processes and namespaces of other runs, of
# anything else on the machine, and the go command's telemetry sidecar
# (which it lets outlive it by design) never carry it. Each Go test package
# checks the same for its own tests, with a marker of its own
# (internal/testenv.Main); this catches what a package that crashed, or a
# script, left.
SMOLFS_TEST_RUN=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
export SMOLFS_TEST_RUN
# Tap devices in this (the root) namespace: the tests make theirs in
# namespaces of their own, so any new one is left over.
root_taps() { ip -o link show type tun 2>/dev/null | awk -F': ' '{ print $2 }' | sort; }
taps_before=$(root_taps)

leftovers() {
	local status=$? f pid kv marked env argv ppid line left=()
	trap - EXIT
	set +e
	# Builtins only until the scan is done: a command run from here would
	# carry the marker too.
	for f in /proc/[0-9]*/environ; do
		pid=${f#/proc/}
		pid=${pid%/environ}
		[ "$pid" = $$ ] && continue
		mapfile -d '' -t env 2>/dev/null <"$f" || continue
		marked=0
		for kv in "${env[@]}"; do
			case $kv in
			GO_TELEMETRY_CHILD=*) marked=0 && break ;;
			"SMOLFS_TEST_RUN=$SMOLFS_TEST_RUN") marked=1 ;;
			esac
		done
		[ "$marked" = 1 ] || continue
		mapfile -d '' -t argv 2>/dev/null <"/proc/$pid/cmdline"
		read -r line 2>/dev/null <"/proc/$pid/stat"
		read -r _ ppid _ <<<"${line##*) }"
		left+=("process $pid (parent $ppid): ${argv[*]}")
		kill -KILL "$pid" 2>/dev/null
	done
	for f in /run/netns/*"-$SMOLFS_TEST_RUN-"*; do
		[ -e "$f" ] || continue
		left+=("network namespace ${f#/run/netns/}")
		ip netns del "${f#/run/netns/}"
	done
	while read -r f; do
		[ -n "$f" ] || continue
		left+=("tap device $f in the root namespace")
	done < <(comm -13 <(echo "$taps_before") <(root_taps))
	if [ ${#left[@]} -gt 0 ]; then
		printf '\ntest.sh: FAIL: the suite left behind (now ended and removed, taps excepted):\n' >&2
		printf '  %s\n' "${left[@]}" >&2
		exit 1
	fi
	echo "test.sh: nothing the suite started outlived it (run marker $SMOLFS_TEST_RUN)"
	exit "$status"
}
trap leftovers EXIT

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"
	echo "$unformatted"
	exit 1
fi

step "go vet"
go vet ./...

step "go test -race"
go test -race -count=1 -timeout 20m ./...

[ "$quick" = 1 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	step "end-to-end scripts skipped: they need root (network namespaces, tap devices)"
	[ "${SMOLFS_REQUIRE_ALL:-}" = 1 ] && exit 1
	exit 0
fi

for s in e2e-v9fs.sh fuzz.sh soak.sh fragflood.sh; do
	[ -x "scripts/$s" ] || continue
	case $s in
	e2e-v9fs.sh) step "real v9fs client (scripts/e2e-v9fs.sh)"; scripts/e2e-v9fs.sh ;;
	fuzz.sh) step "fuzzing, 5 s per target (scripts/fuzz.sh 5)"; scripts/fuzz.sh 5 ;;
	soak.sh) step "short soak (scripts/soak.sh 60)"; scripts/soak.sh 60 ;;
	fragflood.sh) step "reassembly under a fragment flood (scripts/fragflood.sh 5)"; scripts/fragflood.sh 5 ;;
	esac
done
step "all tests passed"
