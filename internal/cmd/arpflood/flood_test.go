package main

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/smolfs/smolfs/internal/testenv"
	"github.com/smolfs/smolfs/netcore/wire"
)

func mustConfig(t *testing.T, args ...string) *config {
	t.Helper()
	var stderr bytes.Buffer
	cfg, err := parseFlags(args, &stderr)
	if err != nil {
		t.Fatalf("parseFlags(%q): %v\n%s", args, err, stderr.String())
	}
	return cfg
}

// TestSendersAreDistinct: every sender has an address and a hardware
// address of its own, the target is never one of them, and the requests
// parse as who-has target.
func TestSendersAreDistinct(t *testing.T) {
	cfg := mustConfig(t, "-i", "x", "-target", "10.0.0.5", "-src", "10.0.0.1", "-senders", "5000")
	ips := map[netip.Addr]bool{}
	macs := map[wire.MAC]bool{}
	var f [requestLen]byte
	for i := range cfg.senders {
		ip, mac := sender(cfg, i)
		if ip == cfg.target {
			t.Fatalf("sender %d is the target %s", i, ip)
		}
		if ips[ip] || macs[mac] {
			t.Fatalf("sender %d (%s %s) repeats an earlier one", i, ip, mac)
		}
		ips[ip], macs[mac] = true, true
		if mac.IsMulticast() || mac[0]&2 == 0 {
			t.Fatalf("sender %d has %s: want a locally administered unicast address", i, mac)
		}
		request(cfg, i, f[:])
		eth, _ := wire.ParseEthernet(f[:])
		arp, err := wire.ParseARP(f[wire.EthHeaderLen:])
		if err != nil || eth.Type != wire.EtherTypeARP || eth.Dst != wire.BroadcastMAC || eth.Src != mac ||
			arp.Op != wire.ARPRequest || arp.SenderIP != ip || arp.SenderMAC != mac || arp.TargetIP != cfg.target {
			t.Fatalf("request %d: %+v %+v (%v)", i, eth, arp, err)
		}
	}
	if first, _ := sender(cfg, 0); first != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("the first sender is %s, want -src", first)
	}
	if last, _ := sender(cfg, cfg.senders-1); last != netip.MustParseAddr("10.0.19.137") {
		t.Errorf("the last sender is %s, want 10.0.19.137 (5000 from 10.0.0.1, the target skipped)", last)
	}
}

func TestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-target", "10.0.0.1"}, "-i IFACE is required"},
		{[]string{"-i", "x"}, "-target IP is required"},
		{[]string{"-i", "x", "-target", "::1"}, "not an IPv4 address"},
		{[]string{"-i", "x", "-target", "10.0.0.1", "-senders", "0"}, "-senders 0"},
		{[]string{"-i", "x", "-target", "10.0.0.1", "-src", "255.255.255.0", "-senders", "1000"}, "runs past 255.255.255.255"},
		{[]string{"-i", "x", "-target", "10.0.0.1", "-rate", "10"}, "open loop only"},
		{[]string{"-i", "x", "-target", "10.0.0.1", "-duration", "0s"}, "-duration 0s"},
		{[]string{"-i", "x", "-target", "10.0.0.1", "-dst", "zz"}, "not a hardware address"},
		{[]string{"-i", "x", "-target", "10.0.0.1", "extra"}, `unexpected argument "extra"`},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(tc.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) || !strings.Contains(stderr.String(), "usage:") {
			t.Errorf("arpflood %q: exit %d, stderr %q; want 2, %q and the usage", tc.args, code, stderr.String(), tc.want)
		}
	}
}

func reply(from netip.Addr, to wire.MAC) []byte {
	b := wire.EthernetRepr{Dst: to, Src: wire.MAC{2, 0, 0, 0, 0, 1}, Type: wire.EtherTypeARP}.Append(nil)
	b = wire.ARPRepr{Op: wire.ARPReply, SenderMAC: wire.MAC{2, 0, 0, 0, 0, 1}, SenderIP: from,
		TargetMAC: to, TargetIP: netip.MustParseAddr("10.1.0.0")}.Append(b)
	return wire.PadFrame(b)
}

func TestIsReply(t *testing.T) {
	target := netip.MustParseAddr("10.0.0.1")
	ours := wire.MAC{0x02, 0xa5, 0, 0, 0, 7}
	if !isReply(target, reply(target, ours)) {
		t.Error("the target's reply to one of our senders is not counted")
	}
	if isReply(target, reply(netip.MustParseAddr("10.0.0.9"), ours)) {
		t.Error("a reply from another address is counted")
	}
	if isReply(target, reply(target, wire.MAC{0x02, 0, 0, 0, 0, 7})) {
		t.Error("a reply to someone else is counted")
	}
	cfg := mustConfig(t, "-i", "x", "-target", "10.0.0.1")
	var f [requestLen]byte
	request(cfg, 0, f[:])
	if isReply(target, f[:]) {
		t.Error("our own request is counted as a reply")
	}
}

// FuzzIsReply: no frame makes the reply check fail or accept what is not a
// whole ARP reply.
func FuzzIsReply(f *testing.F) {
	target := netip.MustParseAddr("10.0.0.1")
	f.Add(reply(target, wire.MAC{0x02, 0xa5, 0, 0, 0, 7}))
	f.Add(reply(target, wire.MAC{0x02, 0xa5, 0, 0, 0, 7})[:41])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, frame []byte) {
		if isReply(target, frame) && len(frame) < requestLen {
			t.Fatalf("a %d-byte frame is counted as a reply", len(frame))
		}
	})
}

// vethWithKernel makes a namespace where the kernel owns 10.0.0.1/8 on
// veth0 and veth1, its peer, has no address: the flood goes out of veth1
// and the kernel answers on veth0.
func vethWithKernel(t *testing.T) *testenv.Netns {
	t.Helper()
	ns := testenv.NewNetns(t)
	ns.Run("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
	ns.Run("ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
	ns.Run("ip", "addr", "add", "10.0.0.1/8", "dev", "veth0")
	ns.Run("ip", "link", "set", "veth0", "up")
	ns.Run("ip", "link", "set", "veth1", "up")
	return ns
}

// knownSenders gives the kernel in ns a permanent neighbour entry on veth0
// for each of the senders that args describe. The kernel answers an ARP
// request only if it has, or can make, an entry for the sender; making one
// fails while the neighbour table is at its limit (gc_thresh3), which is
// counted over every namespace on the machine, so that other tests (a
// benchmark pinging a thousand hosts) could make the kernel fall silent in
// the middle of a flood. Permanent entries are exempt from that limit, and
// with them the kernel makes no new ones.
func knownSenders(t *testing.T, ns *testenv.Netns, args ...string) {
	t.Helper()
	cfg := mustConfig(t, append([]string{"-i", "veth1", "-target", "10.0.0.1"}, args...)...)
	var b strings.Builder
	for i := range cfg.senders {
		ip, mac := sender(cfg, i)
		fmt.Fprintf(&b, "neigh replace %s lladdr %s dev veth0 nud permanent\n", ip, mac)
	}
	cmd := ns.Command("ip", "-batch", "-")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ip -batch: %v\n%s", err, out)
	}
}

func runFlood(t *testing.T, ns *testenv.Netns, args ...string) result {
	t.Helper()
	var r result
	err := ns.Do(func() error {
		cfg := mustConfig(t, append([]string{"-i", "veth1", "-target", "10.0.0.1"}, args...)...)
		var err error
		r, err = flood(context.Background(), cfg)
		return err
	})
	if err != nil {
		t.Fatalf("flood %q: %v", args, err)
	}
	t.Logf("flood %q: %s", args, r)
	return r
}

// TestFloodAgainstKernel: the kernel answers every request of a window-mode
// flood, and an open-loop flood keeps to its rate and its time.
func TestFloodAgainstKernel(t *testing.T) {
	ns := vethWithKernel(t)
	knownSenders(t, ns, "-senders", "500")
	// -timeout: a request counts as lost only after a minute without a
	// reply, so that a machine too loaded to run the flood for a moment
	// does not pass for a kernel that did not answer.
	r := runFlood(t, ns, "-senders", "500", "-count", "3000", "-timeout", "1m")
	if r.sent != 3000 || r.replies != 3000 || r.lost != 0 {
		t.Errorf("window mode: %s; want 3000 sent and answered", r)
	}
	begin := time.Now()
	r = runFlood(t, ns, "-senders", "500", "-count", "100000000", "-window", "0", "-rate", "2000", "-duration", "500ms")
	took := time.Since(begin)
	// The bound, not the speed: a loaded machine may send fewer.
	if r.sent > 2000/2+1 || r.sent == 0 {
		t.Errorf("open loop at 2000/s for 500 ms sent %d, want at most 1001", r.sent)
	}
	if took > time.Minute { // it would take 14 hours to send -count
		t.Errorf("a 500 ms flood took %v", took)
	}
	if r.replies > r.sent || r.replies == 0 {
		t.Errorf("open loop: %s; want replies, no more than requests", r)
	}
}

// TestFloodCommand runs the built command once, as the soak script does.
func TestFloodCommand(t *testing.T) {
	ns := vethWithKernel(t)
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := t.TempDir() + "/arpflood"
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	knownSenders(t, ns, "-senders", "100")
	out := ns.Run(bin, "-i", "veth1", "-target", "10.0.0.1", "-senders", "100", "-count", "200", "-timeout", "1m")
	if !strings.HasPrefix(out, "sent=200 replies=200 lost=0 seconds=") || !strings.Contains(out, " reply_rate=") {
		t.Errorf("arpflood printed %q", out)
	}
	if _, err := ns.Command(bin, "-i", "nonesuch", "-target", "10.0.0.1").Output(); err == nil {
		t.Error("arpflood on a missing interface succeeded")
	} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(ee.Stderr), "interface nonesuch") {
		t.Errorf("arpflood on a missing interface: %v %s; want exit 1 naming it", err, ee.Stderr)
	}
}
