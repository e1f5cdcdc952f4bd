package main

// The `impair` host command against the kernel's ping: smolfs's own netem
// makes the link lossy or slow, and ping, on the other end, measures it.

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/smolfs/smolfs/internal/testenv"
)

// quietLink makes only the test's pings cross tap0: both sides know each
// other's address for good (no ARP), and the tap has no IPv6 (no router or
// neighbour solicitations, no MLD).
func quietLink(t *testing.T, ns *testenv.Netns, tr *tree) {
	t.Helper()
	ns.Run("sysctl", "-qw", "net.ipv6.conf.tap0.disable_ipv6=1")
	ifi, err := link(ns, "tap0")
	if err != nil {
		t.Fatal(err)
	}
	tr.mustWrite("tap0/arp", "add "+kernelIP+" "+ifi.HardwareAddr.String()+"\n")
	ns.Run("ip", "neigh", "replace", ourIP, "lladdr", ourMAC, "dev", "tap0", "nud", "permanent")
}

// hostStats reads NAME/stats into a map.
func hostStats(t *testing.T, tr *tree) map[string]uint64 {
	t.Helper()
	m := map[string]uint64{}
	for _, line := range strings.Split(strings.TrimSpace(tr.read("tap0/stats")), "\n") {
		name, v, ok := strings.Cut(line, " ")
		n, err := strconv.ParseUint(v, 10, 64)
		if !ok || err != nil {
			t.Fatalf("stats line %q", line)
		}
		m[name] = n
	}
	return m
}

// kernelPackets is how many packets the kernel sent (tx_packets) or
// received (rx_packets) on tap0.
func kernelPackets(t *testing.T, ns *testenv.Netns, counter string) uint64 {
	t.Helper()
	v := strings.TrimSpace(ns.Run("cat", "/sys/class/net/tap0/statistics/"+counter))
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("%s %q", counter, v)
	}
	return n
}

var pingSummary = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)

// TestImpairRxLossAgainstPing: `impair rx loss 50%` loses about half the
// kernel's echo requests, and smolfs's impair_rx_dropped counts exactly the
// ones whose reply never came.
func TestImpairRxLossAgainstPing(t *testing.T) {
	testenv.RequireTool(t, "ping", "iputils-ping")
	ns, _, tr := servingTree(t)
	quietLink(t, ns, tr)
	tr.mustWrite("tap0/ctl", "impair rx loss 50%\n")
	if ctl := tr.read("tap0/ctl"); !strings.Contains(ctl, "\nimpair rx loss 50%\nimpair tx off\n") {
		t.Errorf("tap0/ctl reads\n%s", ctl)
	}
	before := hostStats(t, tr)
	txBefore, rxBefore := kernelPackets(t, ns, "tx_packets"), kernelPackets(t, ns, "rx_packets")

	const n = 400
	out, _ := ns.Command("ping", "-n", "-q", "-c", strconv.Itoa(n), "-i", "0.005", "-W", "2", ourIP).CombinedOutput() // exits 1 when replies are missing
	m := pingSummary.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("ping:\n%s", out)
	}
	sent, _ := strconv.Atoi(m[1])
	received, _ := strconv.Atoi(m[2])
	if sent != n {
		t.Fatalf("ping sent %d, want %d:\n%s", sent, n, out)
	}
	if k := kernelPackets(t, ns, "tx_packets") - txBefore; k != n {
		t.Fatalf("the kernel sent %d packets on tap0, want only the %d pings", k, n)
	}
	// ping stops waiting for the last replies two round trips after its
	// last request, which load can stretch: a late reply would count as
	// lost. The kernel counts every reply that reaches it, however late:
	// once smolfs has dropped or answered every request, the kernel is the
	// judge of which replies came.
	var after map[string]uint64
	delta := func(name string) uint64 { return after[name] - before[name] }
	if !waitFor(hangGuard, func() bool {
		after = hostStats(t, tr)
		return delta("impair_rx_dropped")+delta("icmp_echo_tx") >= n
	}) {
		t.Fatalf("of %d requests smolfs dropped %d and answered %d", n, delta("impair_rx_dropped"), delta("icmp_echo_tx"))
	}
	var replies uint64
	if !waitFor(hangGuard, func() bool {
		replies = kernelPackets(t, ns, "rx_packets") - rxBefore
		return replies >= delta("icmp_echo_tx")
	}) {
		t.Fatalf("the kernel received %d replies, smolfs sent %d", replies, delta("icmp_echo_tx"))
	}
	lost := n - replies
	t.Logf("ping: %d sent, %d received; the kernel received %d replies; smolfs: impair_rx_dropped %d", sent, received, replies, delta("impair_rx_dropped"))

	if replies != delta("icmp_echo_tx") {
		t.Errorf("the kernel received %d packets on tap0, smolfs sent %d echo replies", replies, delta("icmp_echo_tx"))
	}
	// Binomial(400, 0.5): sd 10, so 35%..65% is 15 sd either side.
	if lost < n*35/100 || lost > n*65/100 {
		t.Errorf("%d of %d requests lost, want 35%%..65%%", lost, n)
	}
	if d := delta("impair_rx_dropped"); d != lost {
		t.Errorf("impair_rx_dropped rose by %d, %d requests got no reply", d, lost)
	}
	if uint64(received) > replies {
		t.Errorf("ping received %d replies, the kernel only %d", received, replies)
	}
	if d := delta("rx_frames"); d != n {
		t.Errorf("rx_frames rose by %d, want %d (each ping, answered or lost)", d, n)
	}
}

var pingRTT = regexp.MustCompile(`rtt min/avg/max/mdev = ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms`)

// TestImpairTxDelayAgainstPing: `impair tx delay 20~5` holds every reply 15
// to 25 ms, 20 on average, and ping's round trip times show it.
func TestImpairTxDelayAgainstPing(t *testing.T) {
	testenv.RequireTool(t, "ping", "iputils-ping")
	ns, _, tr := servingTree(t)
	quietLink(t, ns, tr)
	base := ns.Run("ping", "-n", "-q", "-c", "20", "-i", "0.01", "-w", hangGuardSeconds, ourIP)
	tr.mustWrite("tap0/ctl", "impair tx delay 20~5\n")
	before := hostStats(t, tr)
	const n = 100
	// -w: ping waits for every reply however late (see unanswered).
	out := ns.Run("ping", "-n", "-c", strconv.Itoa(n), "-i", "0.01", "-w", hangGuardSeconds, ourIP)
	m := pingRTT.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("ping:\n%s", out)
	}
	if bad := unanswered(out, n); bad != nil {
		t.Fatalf("ping: %s, want each once:\n%s", strings.Join(bad, ", "), out)
	}
	minRTT, _ := strconv.ParseFloat(m[1], 64)
	avgRTT, _ := strconv.ParseFloat(m[2], 64)
	t.Logf("without impair: %s", pingRTT.FindString(base))
	t.Logf("with delay 20~5: %s", m[0])
	// No reply can beat its delay: 20-5 ms at the least. The mean of 100
	// uniform delays in 15..25 ms is at least 18 (7 sd below 20); the round
	// trip only adds smolfs's and the kernel's own time, which load
	// stretches, so the times give lower bounds only. That each reply was
	// delayed once, not twice, the counter tells: as many delays as echo
	// replies (ping may have sent a few more than n while it waited).
	if minRTT < 15 {
		t.Errorf("min rtt %.3f ms, below the 15 ms that delay 20~5 allows", minRTT)
	}
	if avgRTT < 18 {
		t.Errorf("avg rtt %.3f ms, want 20 ms and smolfs's own time", avgRTT)
	}
	var after map[string]uint64
	delta := func(name string) uint64 { return after[name] - before[name] }
	waitFor(hangGuard, func() bool {
		after = hostStats(t, tr)
		return delta("icmp_echo_tx") >= n && delta("impair_tx_delayed") >= delta("icmp_echo_tx")
	})
	if d, e := delta("impair_tx_delayed"), delta("icmp_echo_tx"); d != e || e < n {
		t.Errorf("impair_tx_delayed rose by %d, icmp_echo_tx by %d: want them equal, and at least %d", d, e, n)
	}
}
