package main

// TCP over a bad link: smolfs's own `impair` on its side, and the kernel's
// nftables dropping at random on the peer's side, while whole files cross
// both ways and must arrive byte for byte; then attacks: a SYN flood from
// random sources while a real client connects, and blind injection of RST,
// SYN and data into a connection (RFC 5961).

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smolfs/smolfs/internal/testenv"
)

// faultBytes is how much each fault case moves each way: SMOLFS_TCP_FAULT_MB
// megabytes (scripts/tcp-long.sh sets more), or 1 for CI.
func faultBytes() int {
	if mb, err := strconv.Atoi(os.Getenv("SMOLFS_TCP_FAULT_MB")); err == nil && mb > 0 {
		return mb << 20
	}
	return 1 << 20
}

// kernelTCP reads a counter of the namespace kernel's TCP (/proc/net/snmp).
func kernelTCP(t *testing.T, ns *testenv.Netns, name string) int {
	t.Helper()
	lines := strings.Split(ns.Run("cat", "/proc/net/snmp"), "\n")
	for i := 0; i+1 < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "Tcp: ") || !strings.HasPrefix(lines[i+1], "Tcp: ") {
			continue
		}
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		for j, n := range names {
			if n == name && j < len(values) {
				v, _ := strconv.Atoi(values[j])
				return v
			}
		}
	}
	t.Fatalf("no Tcp %s in /proc/net/snmp", name)
	return 0
}

// treeStats reads a stats file through the test's 9P session into a map.
func treeStats(t *testing.T, tr *tree, path string) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(tr.read(path)), "\n") {
		name, v, _ := strings.Cut(line, " ")
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("%s: line %q", path, line)
		}
		m[name] = n
	}
	return m
}

// transfers moves file both ways between the kernel and two listens of
// smolfs (one hashing what it reads, one sending the file) and checks the
// hashes; it returns how long it took.
func transfers(t *testing.T, ns *testenv.Netns, what, file, sum string) time.Duration {
	t.Helper()
	begin := time.Now()
	for _, dir := range []struct{ name, script string }{
		{"kernel to smolfs", fmt.Sprintf("timeout 900 nc -N %s 5001 <%s", ourIP, file)},
		{"smolfs to kernel", fmt.Sprintf("timeout 900 nc -d %s 5002 | sha256sum", ourIP)},
	} {
		out, err := ns.Command("sh", "-c", dir.script).Output()
		if f := strings.Fields(string(out)); err != nil || len(f) == 0 || f[0] != sum {
			t.Errorf("%s, %s: sha256 %q (%v), want %s", what, dir.name, out, err, sum)
		}
	}
	return time.Since(begin)
}

// TestTCPFaultsImpair: with smolfs's `impair` on its link, lossy, reordering,
// duplicating, corrupting or slow in both directions, files cross both ways
// byte for byte, and the retransmission counters of both ends move when
// segments are lost.
func TestTCPFaultsImpair(t *testing.T) {
	testenv.RequireTool(t, "nc", "netcat-openbsd")
	ns, _, tr := servingTree(t)
	startListen(t, ns, "tcp!*!5001", "sha256sum")
	file, sum := testFile(t, faultBytes())
	startListen(t, ns, "tcp!*!5002", "cat", file)
	for _, c := range []struct {
		impair string
		// lossy: how many ends must retransmit. At 1% a direction of a
		// megabyte (some 700 segments) loses none once in a thousand
		// runs, both at once once in a million: one end is asked for.
		lossy int
	}{
		{"loss 1%", 1},
		{"loss 10%", 2},
		{"reorder 25% delay 5", 0},
		{"duplicate 5%", 0},
		{"corrupt 1%", 1},
		{"delay 20~5", 0},
	} {
		tr.mustWrite("tap0/ctl", "impair "+c.impair+"\n")
		tcp0, theirs := treeStats(t, tr, "tap0/tcp/stats"), kernelTCP(t, ns, "RetransSegs")
		before := hostStats(t, tr)
		took := transfers(t, ns, "impair "+c.impair, file, sum)
		after := hostStats(t, tr)
		tcp1 := treeStats(t, tr, "tap0/tcp/stats")
		ours, csum := tcp1["RetransSegs"]-tcp0["RetransSegs"], tcp1["InCsumErrors"]-tcp0["InCsumErrors"]
		theirs = kernelTCP(t, ns, "RetransSegs") - theirs
		t.Logf("impair %s: %d bytes each way in %v; retransmitted: smolfs %d, kernel %d; smolfs saw %d bad checksums",
			c.impair, faultBytes(), took.Round(time.Millisecond), ours, theirs, csum)
		if moved := b2i(ours > 0) + b2i(theirs > 0); moved < c.lossy {
			t.Errorf("impair %s: retransmissions smolfs %d, kernel %d: want %d of them to move", c.impair, ours, theirs, c.lossy)
		}
		switch c.impair {
		case "duplicate 5%":
			if after["impair_rx_duplicated"] == before["impair_rx_duplicated"] || after["impair_tx_duplicated"] == before["impair_tx_duplicated"] {
				t.Errorf("duplicate: impair counted no duplicates")
			}
		case "corrupt 1%":
			// A flipped bit in a TCP segment fails its checksum (or one
			// of the layers below it).
			if after["impair_rx_corrupted"] == before["impair_rx_corrupted"] {
				t.Errorf("corrupt: impair corrupted nothing received")
			}
		case "reorder 25% delay 5":
			if after["impair_rx_reordered"] == before["impair_rx_reordered"] {
				t.Errorf("reorder: impair reordered nothing")
			}
		}
	}
	tr.mustWrite("tap0/ctl", "impair off\n")
	checkFates(t, "tap0", hostStats(t, tr))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestTCPFaultsNftables: the kernel's nftables drops at random on the
// peer's side (`numgen random mod 100 < P drop`, out of the tap and into
// it), 1% and 10%: files cross both ways byte for byte, and smolfs
// retransmits what was dropped on its way in. (What the output chain drops
// the kernel's TCP sends again as if for the first time: its RetransSegs
// does not count those, so the rule's counter is the witness.)
func TestTCPFaultsNftables(t *testing.T) {
	testenv.RequireTool(t, "nc", "netcat-openbsd")
	testenv.RequireTool(t, "nft", "nftables")
	ns, _, tr := servingTree(t)
	startListen(t, ns, "tcp!*!5001", "sha256sum")
	file, sum := testFile(t, faultBytes())
	startListen(t, ns, "tcp!*!5002", "cat", file)
	for _, p := range []int{1, 10} {
		rules := fmt.Sprintf(`table inet lossy {
	chain out { type filter hook output priority 0; meta oifname "tap0" meta l4proto tcp numgen random mod 100 < %d counter drop; }
	chain in { type filter hook input priority 0; meta iifname "tap0" meta l4proto tcp numgen random mod 100 < %d counter drop; }
}`, p, p)
		cmd := ns.Command("nft", "-f", "-")
		cmd.Stdin = strings.NewReader(rules)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nft: %v\n%s", err, out)
		}
		ours := treeStats(t, tr, "tap0/tcp/stats")["RetransSegs"]
		took := transfers(t, ns, fmt.Sprintf("nft drop %d%%", p), file, sum)
		ours = treeStats(t, tr, "tap0/tcp/stats")["RetransSegs"] - ours
		counts := regexp.MustCompile(`counter packets (\d+)`).FindAllStringSubmatch(ns.Run("nft", "list", "table", "inet", "lossy"), -1)
		t.Logf("nft drop %d%%: %d bytes each way in %v; nft dropped %v; smolfs retransmitted %d", p, faultBytes(), took.Round(time.Millisecond), counts, ours)
		// At 1% a megabyte each way may (once in a thousand runs) lose
		// nothing in one direction: then that is all to ask.
		if len(counts) != 2 || p >= 10 && (counts[0][1] == "0" || counts[1][1] == "0" || ours == 0) ||
			counts[0][1] == "0" && counts[1][1] == "0" {
			t.Errorf("nft drop %d%%: dropped %v, smolfs retransmitted %d: want drops (both ways at 10%%) and retransmissions", p, counts, ours)
		}
		ns.Run("nft", "delete", "table", "inet", "lossy")
	}
}

// scapyPython is a python3 that has scapy (the system's, which
// python3-scapy installs into), or "" with the test skipped.
func scapyPython(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(p, "-c", "import scapy.all").Run() == nil {
			return p
		}
	}
	testenv.Missing(t, "no python3 with scapy (apt-get install python3-scapy)")
	return ""
}

// TestTCPBlindInjection: RFC 5961's attacks on an established connection,
// from scapy on the kernel's side with the connection's four addresses. An
// attacker who knows the peer's sequence number (scapy sniffs it) but not
// ours: a RST in the window but not exact, a SYN in the window, and data at
// the exact number with an acknowledgment far behind are each answered
// with a challenge ACK and change nothing. Then blind ones, every number
// guessed: ignored (an ACK at most). The connection goes on carrying its
// bytes whole, and none of the injected data reaches it.
func TestTCPBlindInjection(t *testing.T) {
	testenv.RequireTool(t, "socat", "socat")
	py := scapyPython(t)
	ns, _, tr := servingTree(t)
	stat := func(name string) int { return treeStats(t, tr, "tap0/tcp/stats")[name] }
	startListen(t, ns, "-service", "echo", "tcp!*!7")
	// A connection that stays open: socat with its input a fifo.
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	fifo := dir + "/in"
	if err := exec.Command("mkfifo", fifo).Run(); err != nil {
		t.Fatal(err)
	}
	client := start(t, "socat", ns.Command("sh", "-c", fmt.Sprintf("exec socat -T 120 - TCP:%s:7 <%s", ourIP, fifo)))
	in, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	fmt.Fprintf(in, "before\n")
	if !waitFor(time.Minute, func() bool { return client.stdout.String() == "before\n" }) {
		t.Fatalf("no echo: %q", client.stdout.String())
	}
	// The kernel's port, from ss: "192.168.69.100:PORT 192.168.69.1:7".
	m := regexp.MustCompile(`192\.168\.69\.100:(\d+)\s+192\.168\.69\.1:7\b`).FindStringSubmatch(ns.Run("ss", "-Htn", "state", "established"))
	if m == nil {
		t.Fatal("the connection is not in ss")
	}
	challenges, rx := stat("ChallengeACKs"), stat("tcp_rx")
	// The script sniffs the kernel's next segment ("probe", which it
	// writes to the fifo itself) for the numbers, then injects.
	script := fmt.Sprintf(`
import random, time
from scapy.all import Ether, IP, TCP, Raw, sendp, AsyncSniffer, conf
conf.verb = 0
sn = AsyncSniffer(iface="tap0", filter="tcp and src port %[4]s and tcp[tcpflags] & tcp-push != 0", count=1, timeout=30)
sn.start()
time.sleep(0.5)
with open(%[5]q, "w") as f:
    f.write("probe\n")
sn.join()
seg = sn.results[0][TCP]
nxt = seg.seq + len(seg.payload)  # what smolfs expects next from the kernel
una = seg.ack                      # what the kernel has of smolfs's
base = Ether(dst=%[1]q)/IP(src=%[2]q, dst=%[3]q)/TCP(sport=%[4]s, dport=7, window=65535)
def seg_(flags, seq, ack=0, data=b""):
    p = base.copy()
    p[TCP].flags, p[TCP].seq, p[TCP].ack = flags, seq & 0xffffffff, ack & 0xffffffff
    return p/Raw(data) if data else p
pkts = [
    seg_("R", nxt + 1000),                             # RST in the window, not exact
    seg_("S", nxt + 1000),                             # SYN in the window
    seg_("PA", nxt, una - (1 << 30), b"INJECTED 1\n"),  # data at the exact number, ack far behind
]
r = random.Random(1)
for i in range(3):                                     # blind: every number guessed
    pkts.append(seg_("R", r.getrandbits(32)))
    pkts.append(seg_("S", r.getrandbits(32)))
    pkts.append(seg_("PA", r.getrandbits(32), r.getrandbits(32), b"INJECTED 2\n"))
sendp(pkts, iface="tap0")
`, ourMAC, kernelIP, ourIP, m[1], fifo)
	if out, err := ns.Command(py, "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("scapy: %v\n%s", err, out)
	}
	fmt.Fprintf(in, "after\n")
	if !waitFor(time.Minute, func() bool { return strings.HasSuffix(client.stdout.String(), "after\n") }) {
		t.Fatalf("the connection did not survive: %q", client.stdout.String())
	}
	if got := client.stdout.String(); got != "before\nprobe\nafter\n" {
		t.Errorf("the echo carried %q", got)
	}
	if n := stat("tcp_rx") - rx; n < 12 {
		t.Errorf("TCP took %d segments, want the 12 injected and more", n)
	}
	if n := stat("ChallengeACKs") - challenges; n < 3 {
		t.Errorf("%d challenge ACKs, want one for each of the 3 attacks that knew the peer's number", n)
	}
	if n := stat("EstabResets"); n != 0 {
		t.Errorf("EstabResets %d", n)
	}
}

// TestTCPSynFlood: a SYN flood from random sources (hping3) at the port a
// real client connects to: the half-open connections stay within their
// bound, SYN cookies answer the rest, the real client's connection opens
// and carries its bytes, and the server's memory stays bounded.
func TestTCPSynFlood(t *testing.T) {
	testenv.RequireTool(t, "hping3", "hping3")
	testenv.RequireTool(t, "nc", "netcat-openbsd")
	ns, srv, tr := servingTree(t)
	stat := func(name string) int { return treeStats(t, tr, "tap0/tcp/stats")[name] }
	startListen(t, ns, "-service", "echo", "tcp!*!7")
	file, sum := testFile(t, 256<<10)
	count := 20000
	if n, err := strconv.Atoi(os.Getenv("SMOLFS_TCP_FLOOD")); err == nil && n > 0 {
		count = n
	}
	rss0 := rssKB(t, srv.cmd.Process.Pid)
	// (-i u1 -c N, as fast as hping3 goes and bounded in count: --flood
	// ignores -c.)
	flood := start(t, "hping3", ns.Command("hping3", "-q", "-S", "-p", "7", "-i", "u1", "--rand-source", "-c", strconv.Itoa(count), ourIP))
	// While it floods (once a tenth of it has come): a real connection
	// opens and moves data.
	if !waitFor(time.Minute, func() bool {
		return flood.done() || stat("tcp_rx")+stat("tcp_rx_not_unicast") >= count/10
	}) {
		t.Fatal("the flood did not come")
	}
	out, err := ns.Command("sh", "-c", fmt.Sprintf("timeout 60 nc -N %s 7 <%s | sha256sum", ourIP, file)).Output()
	if f := strings.Fields(string(out)); err != nil || len(f) == 0 || f[0] != sum {
		t.Errorf("echo during the flood: %q, %v", out, err)
	}
	flood.wait(t, time.Duration(count/1000+60)*time.Second)
	rss1 := rssKB(t, srv.cmd.Process.Pid)
	t.Logf("%d SYNs from random sources: SynCookiesSent %d, PassiveOpens %d, tcp_rx %d; serve's RSS %d -> %d kB",
		count, stat("SynCookiesSent"), stat("PassiveOpens"), stat("tcp_rx"), rss0, rss1)
	if stat("SynCookiesSent") == 0 {
		t.Errorf("no SYN cookies during the flood")
	}
	if rss1-rss0 > 64<<10 {
		t.Errorf("serve's RSS grew by %d kB during the flood", rss1-rss0)
	}
}

// rssKB is a process's resident set in kB.
func rssKB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmRSS in /proc/%d/status", pid)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// TestTCPManyConnections: the kernel holds many connections to smolfs
// listen -service echo at once (SMOLFS_TCP_CONNS, 10,000 in
// scripts/tcp-long.sh; 1,000 for CI), every one established and served:
// a byte on each comes back. The RSS of smolfs serve and of smolfs listen
// with all of them open is logged.
func TestTCPManyConnections(t *testing.T) {
	testenv.RequireTool(t, "python3", "python3")
	ns, srv, tr := servingTree(t)
	stat := func(name string) int { return treeStats(t, tr, "tap0/tcp/stats")[name] }
	listen := startListen(t, ns, "-service", "echo", "tcp!*!7")
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("SMOLFS_TCP_CONNS")); err == nil && v > 0 {
		n = v
	}
	rss0, lrss0 := rssKB(t, srv.cmd.Process.Pid), rssKB(t, listen.cmd.Process.Pid)
	script := fmt.Sprintf(`
import resource, socket, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (%[1]d + 100, %[1]d + 100))
socks = []
for i in range(%[1]d):
    s = socket.create_connection((%[2]q, 7), timeout=60)
    socks.append(s)
print("connected", len(socks), flush=True)
sys.stdin.readline()
for i, s in enumerate(socks):
    s.sendall(bytes([i %% 256]))
for i, s in enumerate(socks):
    b = s.recv(1)
    if b != bytes([i %% 256]):
        print("bad echo on", i, b, flush=True)
        sys.exit(1)
print("echoed", len(socks), flush=True)
`, n, ourIP)
	cmd := ns.Command("python3", "-c", script)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	client := start(t, "python3", cmd)
	begin := time.Now()
	if !waitFor(10*time.Minute, func() bool { return client.done() || strings.Contains(client.stdout.String(), "connected") }) || client.done() {
		t.Fatalf("the client did not connect: %s", client.stdout.String())
	}
	took := time.Since(begin)
	if !waitFor(10*time.Minute, func() bool { return stat("conversations") == n+1 }) {
		t.Fatalf("%d conversations, want %d", stat("conversations"), n+1)
	}
	estab := stat("CurrEstab")
	rss1, lrss1 := rssKB(t, srv.cmd.Process.Pid), rssKB(t, listen.cmd.Process.Pid)
	t.Logf("%d connections in %v (CurrEstab %d, ListenDrops %d, SynCookiesSent %d); RSS: serve %d -> %d kB, listen %d -> %d kB",
		n, took.Round(time.Millisecond), estab, stat("ListenDrops"), stat("SynCookiesSent"), rss0, rss1, lrss0, lrss1)
	if estab != n {
		t.Errorf("CurrEstab %d, want %d", estab, n)
	}
	in.Write([]byte("go\n"))
	if code, _ := client.wait(t, 10*time.Minute); code != 0 || !strings.Contains(client.stdout.String(), fmt.Sprintf("echoed %d", n)) {
		t.Errorf("the client exited %d: %s", code, client.stdout.String())
	}
	if !waitFor(10*time.Minute, func() bool { return stat("conversations") == 1 }) {
		t.Errorf("%d conversations after the client closed, want the announcement alone", stat("conversations"))
	}
}
