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

// kernelTxPackets is how many packets the kernel sent on tap0.
func kernelTxPackets(t *testing.T, ns *testenv.Netns) uint64 {
	t.Helper()
	v := strings.TrimSpace(ns.Run("cat", "/sys/class/net/tap0/statistics/tx_packets"))
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("tx_packets %q", v)
	}
	return n
}

var pingSummary = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)

// TestImpairRxLossAgainstPing: `impair rx loss 50%` loses about half the
// kernel's echo requests, and smolfs's impair_rx_dropped counts exactly the
// ones ping missed.
func TestImpairRxLossAgainstPing(t *testing.T) {
	testenv.RequireTool(t, "ping", "iputils-ping")
	ns, _, tr := servingTree(t)
	quietLink(t, ns, tr)
	tr.mustWrite("tap0/ctl", "impair rx loss 50%\n")
	if ctl := tr.read("tap0/ctl"); !strings.Contains(ctl, "\nimpair rx loss 50%\nimpair tx off\n") {
		t.Errorf("tap0/ctl reads\n%s", ctl)
	}
	before, kernelBefore := hostStats(t, tr), kernelTxPackets(t, ns)

	// -W 2: a reply not back within 2 s is lost (smolfs answers in well
	// under that, so only the requests lost on the way count).
	const n = 400
	out, _ := ns.Command("ping", "-n", "-q", "-c", strconv.Itoa(n), "-i", "0.005", "-W", "2", ourIP).CombinedOutput() // exits 1 when replies are missing
	m := pingSummary.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("ping:\n%s", out)
	}
	sent, _ := strconv.Atoi(m[1])
	received, _ := strconv.Atoi(m[2])
	lost := sent - received
	after := hostStats(t, tr)
	t.Logf("ping: %d sent, %d received; smolfs: impair_rx_dropped %d", sent, received, after["impair_rx_dropped"]-before["impair_rx_dropped"])

	if sent != n {
		t.Fatalf("ping sent %d, want %d:\n%s", sent, n, out)
	}
	if k := kernelTxPackets(t, ns) - kernelBefore; k != n {
		t.Fatalf("the kernel sent %d packets on tap0, want only the %d pings", k, n)
	}
	// Binomial(400, 0.5): sd 10, so 35%..65% is 15 sd either side.
	if lost < n*35/100 || lost > n*65/100 {
		t.Errorf("ping lost %d of %d, want 35%%..65%%", lost, n)
	}
	if d := after["impair_rx_dropped"] - before["impair_rx_dropped"]; d != uint64(lost) {
		t.Errorf("impair_rx_dropped rose by %d, ping lost %d", d, lost)
	}
	if d := after["icmp_echo_tx"] - before["icmp_echo_tx"]; d != uint64(received) {
		t.Errorf("icmp_echo_tx rose by %d, ping received %d", d, received)
	}
	if d := after["rx_frames"] - before["rx_frames"]; d != n {
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
	base := ns.Run("ping", "-n", "-q", "-c", "20", "-i", "0.01", ourIP)
	tr.mustWrite("tap0/ctl", "impair tx delay 20~5\n")
	before := hostStats(t, tr)
	const n = 100
	out := ns.Run("ping", "-n", "-q", "-c", strconv.Itoa(n), "-i", "0.01", ourIP)
	after := hostStats(t, tr)
	m := pingRTT.FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, strconv.Itoa(n)+" received") {
		t.Fatalf("ping:\n%s", out)
	}
	minRTT, _ := strconv.ParseFloat(m[1], 64)
	avgRTT, _ := strconv.ParseFloat(m[2], 64)
	t.Logf("without impair: %s", pingRTT.FindString(base))
	t.Logf("with delay 20~5: %s", m[0])
	// No reply can beat its delay: 20-5 ms at the least. The mean of 100
	// uniform delays in 15..25 ms lies within 2 ms of 20 (7 sd); the round
	// trip adds smolfs's and the kernel's own time, a fraction of a
	// millisecond on average (ping without impair, logged above), a few
	// on a machine loaded with the race detector and other tests: 5 ms is
	// allowed, which still tells a delay applied once from one applied
	// twice or not at all.
	if minRTT < 15 {
		t.Errorf("min rtt %.3f ms, below the 15 ms that delay 20~5 allows", minRTT)
	}
	if avgRTT < 18 || avgRTT > 25+5 {
		t.Errorf("avg rtt %.3f ms, want 20 ms and smolfs's own time", avgRTT)
	}
	if d := after["impair_tx_delayed"] - before["impair_tx_delayed"]; d != n {
		t.Errorf("impair_tx_delayed rose by %d, want %d", d, n)
	}
}
