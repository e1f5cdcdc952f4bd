#!/usr/bin/env bash
# usage: scripts/fuzz.sh SECONDS
#
# Runs every fuzz target of every package, one after another, each for
# SECONDS (go test -fuzz '^Name$' -fuzztime SECONDSs). Targets are found with
# go test -list, so new ones are picked up without editing this script. It
# fails if any target fails; a failing input is kept by go test under the
# package's testdata/fuzz/NAME/ so that plain go test replays it.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: scripts/fuzz.sh SECONDS" >&2; }
case "${1:-}" in
-h | --help)
	sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
'' | *[!0-9]*)
	usage
	exit 2
	;;
esac
secs=$1
if [ "$secs" -lt 1 ]; then
	usage
	exit 2
fi

# go test -fuzz writes its scratch files here; remove them however we exit.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failed=()
ran=0
for pkg in $(go list ./...); do
	# -list prints the matching names, then "ok  pkg" (or "?" for no tests).
	if ! targets=$(go test -list '^Fuzz' "$pkg" 2>"$work/list.err"); then
		cat "$work/list.err" >&2
		failed+=("$pkg (listing)")
		continue
	fi
	# sort -u: a TestMain that runs the tests more than once lists them more than once.
	for name in $(printf '%s\n' "$targets" | grep -E '^Fuzz[A-Za-z0-9_]*$' | sort -u || true); do
		printf '=== %s %s (%ss)\n' "$pkg" "$name" "$secs"
		ran=$((ran + 1))
		if ! GOTMPDIR="$work" go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "${secs}s"; then
			failed+=("$pkg $name")
		fi
	done
done

if [ "$ran" -eq 0 ]; then
	echo "fuzz.sh: found no fuzz targets" >&2
	exit 1
fi
if [ "${#failed[@]}" -gt 0 ]; then
	printf 'fuzz.sh: %d of %d targets failed:\n' "${#failed[@]}" "$ran" >&2
	printf '  %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "fuzz.sh: all $ran fuzz targets passed (${secs}s each)"
