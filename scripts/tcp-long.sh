#!/usr/bin/env bash
# usage: scripts/tcp-long.sh [-h] [GO TEST FLAGS...]
#
# The long forms of the TCP tests against the kernel (cmd/smolfs), which CI
# runs short: 100 MB each way with matching sha256 (through listen and
# dial, and from python's http.server), 20 MB each way through every fault
# (impair: loss 1% and 10%, reorder 25%, duplicate 5%, corrupt 1%, delay
# 20 ms with jitter; nftables drops of 1% and 10% on the peer's side), a
# flood of a million SYNs from random sources while a real client connects
# (serve's RSS before and after), and 10,000 connections held at once (the
# RSS of serve and listen). The figures are in the -v output's log lines.
# Needs root and the peers scripts/test.sh installs. Takes about 10 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
-h | --help)
	sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
esac
command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
[ "$(id -u)" = 0 ] || { echo "tcp-long.sh: needs root (network namespaces, tap devices)" >&2; exit 1; }
export SMOLFS_TCP_MB=100 SMOLFS_TCP_FAULT_MB=20 SMOLFS_TCP_FLOOD=1000000 SMOLFS_TCP_CONNS=10000
exec go test -count=1 -timeout 60m -v "$@" -run 'TCP' ./cmd/smolfs
