#!/usr/bin/env bash
# usage: scripts/bench9p.sh [-rounds N] [-duration SECONDS] [-conns "1 8"] [-smolfs BINARY] [-keep]
#
# 9P speed of smolfs against diod: walk+open+read+clunk of tap0/addr, one
# client (internal/cmd/bench9p) for both, over TCP loopback. smolfs serves a
# tap in a test namespace of its own; diod (Debian's) exports a tmpfs
# directory holding tap0/addr with the same contents, in the same namespace,
# so that nothing touches the root namespace's interfaces. For each
# connection count the targets alternate A B B A ... over the rounds, so
# that a drift in the machine's load cancels out; the table gives each
# target's mean ops/s, the ratio of the means, and the spread of the
# per-round ratios. -smolfs serves with a smolfs binary built elsewhere (an
# older commit, to measure a change) instead of building this tree's. -keep
# leaves the per-run output in the work directory.
#
# Needs root, ip(8) and diod. The goal (issue 3): smolfs/diod >= 1.5 at 8
# connections and >= 1.0 at 1.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=4
duration=3
conns_list="1 8"
keep=0
smolfs_bin=""
usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case $1 in
	-rounds) rounds=$2; shift 2 ;;
	-duration) duration=$2; shift 2 ;;
	-conns) conns_list=$2; shift 2 ;;
	-smolfs) smolfs_bin=$2; shift 2 ;;
	-keep) keep=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "bench9p.sh: needs root (a network namespace and a tap)" >&2; exit 1; }
for tool in ip diod; do
	command -v "$tool" >/dev/null || { echo "bench9p.sh: $tool not found (apt-get install ${tool/ip/iproute2})" >&2; exit 1; }
done

work=$(mktemp -d /tmp/bench9p.XXXXXX)
# /dev/shm is a tmpfs: diod's side is a file in memory, as smolfs's is.
export_dir=$(mktemp -d /dev/shm/bench9p-export.XXXXXX)
ns=smolfs-bench-$$
serve_pid=""
diod_pid=""
cleanup() {
	set +e
	for pid in $serve_pid $diod_pid; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$export_dir"
	if [ "$keep" = 1 ]; then echo "work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building bench9p${smolfs_bin:+ (smolfs: $smolfs_bin)}${smolfs_bin:- and smolfs}" >&2
# This tree's smolfs is also the 9P client that checks both servers are up.
go build -o "$work/smolfs" ./cmd/smolfs
server="$work/smolfs"
if [ -n "$smolfs_bin" ]; then
	cp "$smolfs_bin" "$work/smolfs-under-test"
	server="$work/smolfs-under-test"
fi
go build -o "$work/bench9p" ./internal/cmd/bench9p

ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
in_ns() { ip netns exec "$ns" "$@"; }

# ip netns exec execs its command, so $! is the server itself (not started
# through in_ns, which would put a subshell in between).
ip netns exec "$ns" "$server" serve -listen 127.0.0.1:5640 -host tap0,ea=02:00:00:00:00:01,ip=192.168.69.1/24 \
	-log-level warn 2>"$work/serve.log" &
serve_pid=$!
for _ in $(seq 100); do
	in_ns "$work/smolfs" 9p read tap0/addr >"$work/addr" 2>/dev/null && break
	sleep 0.1
done
[ -s "$work/addr" ] || { echo "bench9p.sh: smolfs serve did not come up:" >&2; cat "$work/serve.log" >&2; exit 1; }
mkdir -p "$export_dir/tap0"
cp "$work/addr" "$export_dir/tap0/addr"

# -n: no authentication; -u 0: diod runs as root and lets only root attach,
# which spares it switching user ids per request (its fastest setting).
ip netns exec "$ns" diod -f -n -u 0 -l 127.0.0.1:5641 -e "$export_dir" -L "$work/diod.log" &
diod_pid=$!
up=0
for _ in $(seq 100); do
	if in_ns "$work/smolfs" 9p -addr 127.0.0.1:5641 -aname "$export_dir" read tap0/addr 2>/dev/null | cmp -s - "$work/addr"; then
		up=1
		break
	fi
	sleep 0.1
done
[ "$up" = 1 ] || { echo "bench9p.sh: diod did not come up:" >&2; cat "$work/diod.log" >&2; exit 1; }

bench() { # target conns
	local args=(-label "$1" -conns "$2" -duration "${duration}s")
	if [ "$1" = diod ]; then
		args+=(-addr 127.0.0.1:5641 -aname "$export_dir")
	else
		args+=(-addr 127.0.0.1:5640)
	fi
	in_ns "$work/bench9p" "${args[@]}" 2>>"$work/bench.log" | awk '/^RESULT/ { print $2, $3, $5, $6, $7 }'
}

load_before=$(uptime)
echo "load before: $load_before" >&2
: >"$work/results"
for conns in $conns_list; do
	for r in $(seq "$rounds"); do
		if [ $((r % 2)) = 1 ]; then order="smolfs diod"; else order="diod smolfs"; fi
		for target in $order; do
			line=$(bench "$target" "$conns")
			[ -n "$line" ] || { echo "bench9p.sh: $target at $conns connections failed:" >&2; tail -5 "$work/bench.log" >&2; exit 1; }
			echo "$r $line" >>"$work/results"
			echo "  round $r: $line" >&2
		done
	done
done
load_after=$(uptime)

if ! kill -0 "$serve_pid" 2>/dev/null; then
	echo "bench9p.sh: smolfs serve died during the run:" >&2
	cat "$work/serve.log" >&2
	exit 1
fi

echo
echo "9P walk+open+read+clunk of tap0/addr, ${rounds} rounds x ${duration}s per target (A B B A ...), TCP loopback"
echo "load before: ${load_before#*load average: }   after: ${load_after#*load average: }   ($(nproc) CPUs)"
awk -v goals="1:1.0 8:1.5" '
	BEGIN { n = split(goals, g, " "); for (i = 1; i <= n; i++) { split(g[i], kv, ":"); goal[kv[1]] = kv[2] } }
	{ r = $1; t = $2; c = $3; ops[c, t] += $4; runs[c, t]++; rate[c, t, r] = $4; p50[c, t] += $5; p99[c, t] += $6
	  if (!(c in seen)) { seen[c] = 1; order[++nc] = c } ; if (r > maxr) maxr = r }
	END {
		printf "%-6s %14s %14s %8s %17s %12s %12s %6s\n", "conns", "smolfs ops/s", "diod ops/s", "ratio", "per-round ratios", "smolfs p50", "diod p50", "goal"
		for (i = 1; i <= nc; i++) {
			c = order[i]
			s = ops[c, "smolfs"] / runs[c, "smolfs"]; d = ops[c, "diod"] / runs[c, "diod"]
			lo = 1e9; hi = 0
			for (r = 1; r <= maxr; r++) if (rate[c, "diod", r] > 0) { q = rate[c, "smolfs", r] / rate[c, "diod", r]; if (q < lo) lo = q; if (q > hi) hi = q }
			verdict = ""
			if (c in goal) verdict = sprintf(">=%.1f %s", goal[c], (s / d >= goal[c]) ? "met" : "MISSED")
			printf "%-6s %14.0f %14.0f %7.2fx %8.2f..%-7.2f %10.0fus %10.0fus %s\n", c, s, d, s / d, lo, hi, p50[c, "smolfs"] / runs[c, "smolfs"], p50[c, "diod"] / runs[c, "diod"], verdict
		}
	}' "$work/results"
