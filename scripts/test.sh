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
