package tcpdump

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smolfs/smolfs/internal/testenv"
	"github.com/smolfs/smolfs/netcore/capture"
	"github.com/smolfs/smolfs/netcore/wire/wiretest"
)

const kernel6Golden = "testdata/kernel6.golden"

// TestTcpdumpKernelIPv6 captures the IPv6 the kernel speaks when a host
// (ns1) sits behind a router (ns2, radvd on, a 1280-byte link on its far
// side to ns3), and compares our lines with tcpdump's: router
// advertisements with prefix, MTU and RDNSS options, rdisc6 and ndisc6,
// pings with fragments both ways, packet too big, time exceeded and port
// unreachable from traceroute, UDP and TCP, and raw frames from scapy that
// make the kernel send parameter problems (unknown next header, unknown
// option, routing header type 0) and drop overlapping fragments. With
// -update it stores the frames as wiretest.Kernel6File() and their lines
// as testdata/kernel6.golden, which TestTcpdumpKernelIPv6Golden replays
// where there is no root.
func TestTcpdumpKernelIPv6(t *testing.T) {
	testenv.RequireTool(t, "tcpdump", "tcpdump")
	testenv.RequireTool(t, "ping", "iputils-ping")
	testenv.RequireTool(t, "radvd", "radvd")
	testenv.RequireTool(t, "rdisc6", "ndisc6")
	testenv.RequireTool(t, "ndisc6", "ndisc6")
	testenv.RequireTool(t, "traceroute", "traceroute")
	py := testenv.RequireScapy(t)
	ns1, ns2, ns3 := testenv.NewNetns(t), testenv.NewNetns(t), testenv.NewNetns(t)
	ns1.Run("ip", "link", "add", "v0", "address", wiretest.MACA.String(), "type", "veth", "peer", "name", "v1", "address", wiretest.MACB.String(), "netns", ns2.Name)
	ns2.Run("ip", "link", "add", "w0", "mtu", "1280", "type", "veth", "peer", "name", "w1", "mtu", "1280", "netns", ns3.Name)
	for _, ns := range []*testenv.Netns{ns2, ns3} {
		ns.Run("sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.icmp.ratelimit=0")
	}
	ns2.Run("sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1")
	ns2.Run("ip", "addr", "add", "2001:db8:1::1/64", "dev", "v1")
	ns2.Run("ip", "addr", "add", "2001:db8:2::1/64", "dev", "w0")
	ns3.Run("ip", "addr", "add", "2001:db8:2::3/64", "dev", "w1")
	ns2.Run("ip", "link", "set", "w0", "up")
	ns3.Run("ip", "link", "set", "w1", "up")
	ns3.Run("ip", "-6", "route", "add", "default", "via", "2001:db8:2::1")

	// tcpdump needs v0 up; the carrier comes with v1, and IPv6 starts then.
	ns1.Run("ip", "link", "set", "v0", "up")
	pcapName := filepath.Join(t.TempDir(), "capture.pcap")
	stopDump := startDump(t, ns1, "v0", pcapName)
	ns2.Run("ip", "link", "set", "v1", "up")

	conf := filepath.Join(t.TempDir(), "radvd.conf")
	os.WriteFile(conf, []byte(`interface v1 {
	AdvSendAdvert on;
	MinRtrAdvInterval 30;
	MaxRtrAdvInterval 60;
	AdvLinkMTU 1500;
	prefix 2001:db8:1::/64 { AdvValidLifetime 3600; AdvPreferredLifetime 1800; };
	route 2001:db8:2::/64 { };
	RDNSS 2001:db8:1::53 { };
};
`), 0o644)
	radvd := ns2.Command("radvd", "-n", "-C", conf, "-p", filepath.Join(t.TempDir(), "radvd.pid"), "-m", "stderr")
	if err := radvd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { radvd.Process.Kill(); radvd.Wait() })

	// ns1 forms its address from radvd's prefix: rdisc6 asks for an
	// advertisement, and the address is waited for until DAD is done.
	waitFor(t, "ns1's link-local address", func() bool {
		out := ns1.Run("ip", "-6", "addr", "show", "dev", "v0", "scope", "link")
		return strings.Contains(out, "fe80::") && !strings.Contains(out, "tentative")
	})
	ns1.Run("rdisc6", "-1", "-r", "5", "v0")
	slaac := "2001:db8:1:0:4849:58ff:fe75:94f4" // as ip prints it (RFC 5952)
	waitFor(t, "ns1's SLAAC address", func() bool {
		out := ns1.Run("ip", "-6", "addr", "show", "dev", "v0")
		return strings.Contains(out, slaac) && !strings.Contains(out, "tentative")
	})
	ns1.Run("ndisc6", "-1", "2001:db8:1::1", "v0")
	ns1.Run("ping", "-6", "-c", "2", "-i", "0.2", "2001:db8:1::1")
	ns1.Run("ping", "-6", "-c", "1", "-s", "3000", "2001:db8:1::1")
	ns1.Command("ping", "-6", "-c", "1", "-W", "1", "-s", "1400", "-M", "do", "2001:db8:2::3").Run() // packet too big
	ns1.Run("ping", "-6", "-c", "1", "-s", "1400", "2001:db8:2::3")                                  // now fragmented to 1280
	ns1.Command("traceroute", "-6", "-n", "-q", "1", "-m", "2", "-w", "1", "2001:db8:2::3").Run()
	ns1.Command("ping", "-6", "-c", "1", "-W", "1", "2001:db8:1::77").Run() // neighbour solicitations nobody answers
	tcpEcho := listenIn(t, ns2, "tcp", "[2001:db8:1::1]:7")
	go func() {
		c, err := tcpEcho.(interface{ Accept() (net.Conn, error) }).Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		c.Write(buf[:n])
		c.Close()
	}()
	err := ns1.Do(func() error {
		u, err := net.Dial("udp", "[2001:db8:1::1]:9")
		if err != nil {
			return err
		}
		u.Write([]byte("ping"))
		time.Sleep(100 * time.Millisecond)
		u.Close()
		c, err := net.DialTimeout("tcp", "[2001:db8:1::1]:7", 5*time.Second)
		if err != nil {
			return err
		}
		c.Write([]byte("hello\n"))
		io.ReadFull(c, make([]byte, 6))
		c.Close()
		if c, err := net.DialTimeout("tcp", "[2001:db8:1::1]:8", 5*time.Second); err == nil {
			c.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Frames the kernel's own sockets will not send.
	script := `
import sys
from scapy.all import Ether, IPv6, ICMPv6EchoRequest, IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt, IPv6ExtHdrRouting, IPv6ExtHdrFragment, HBHOptUnknown, PadN, Raw, sendp
eth = Ether(src="` + wiretest.MACA.String() + `", dst="` + wiretest.MACB.String() + `")
ip = IPv6(src="` + slaac + `", dst="2001:db8:1::1")
frames = [
	eth/IPv6(src=ip.src, dst=ip.dst, nh=150)/Raw(b"unknown next header"),
	eth/ip/IPv6ExtHdrHopByHop(options=[HBHOptUnknown(otype=0x87, optdata=b"ab")])/ICMPv6EchoRequest(id=1, seq=1),
	eth/ip/IPv6ExtHdrHopByHop(options=[PadN(optdata=b"\0\0\0\0")])/ICMPv6EchoRequest(id=1, seq=2),
	eth/ip/IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0\0\0\0")])/ICMPv6EchoRequest(id=1, seq=3),
	eth/ip/IPv6ExtHdrRouting(type=0, segleft=1, addresses=["2001:db8:2::3"])/ICMPv6EchoRequest(id=1, seq=4),
]
# The checksum covers the pseudo-header: built under ip, then cut off it.
payload = bytes(ip/ICMPv6EchoRequest(id=1, seq=5, data=b"x"*64))[40:]
frames.append(eth/ip/IPv6ExtHdrFragment(nh=58, offset=0, m=1, id=7)/Raw(payload[:48]))
frames.append(eth/ip/IPv6ExtHdrFragment(nh=58, offset=4, m=0, id=7)/Raw(payload[32:]))
frames.append(eth/ip/IPv6ExtHdrFragment(nh=58, offset=0, m=1, id=8)/Raw(payload[:48]))
frames.append(eth/ip/IPv6ExtHdrFragment(nh=58, offset=6, m=0, id=8)/Raw(payload[48:]))
sendp(frames, iface="v0", verbose=False)
`
	ns1.Run(py, "-c", script)
	// What the last frames provoke comes back within a round trip; a ping
	// after them is answered only after they were.
	ns1.Run("ping", "-6", "-c", "1", "2001:db8:1::1")
	stopDump()
	cs, err := wiretest.ReadPcapFile(pcapName)
	if err != nil {
		t.Fatal(err)
	}

	if len(cs) < 40 {
		t.Fatalf("captured only %d frames", len(cs))
	}
	want := wiretest.TcpdumpFirstLines(t, wiretest.WritePcap(t, cs))
	if len(want) != len(cs) {
		t.Fatalf("tcpdump printed %d first lines for %d frames", len(want), len(cs))
	}
	compareLines(t, cs, ourLines(cs), want, "tcpdump")
	if testing.Verbose() {
		t.Logf("tcpdump's lines:\n%s", strings.Join(want, "\n"))
	}
	// The kinds of line this test exists for must be among them.
	all := strings.Join(want, "\n")
	for _, s := range []string{"router advertisement", "router solicitation", "neighbor solicitation", "neighbor advertisement",
		"frag (0|", "packet too big", "time exceeded in-transit", "udp port 9,", "parameter problem, next header",
		"parameter problem, option", "parameter problem, erroneous", "HBH ", "DSTOPT ", "RT6 (len=2, type=0 [Deprecated]", "Flags [S.]", "Flags [R.]"} {
		if !strings.Contains(all, s) {
			t.Errorf("no line with %q among the %d kernel frames", s, len(cs))
		}
	}
	t.Logf("compared %d kernel frames", len(cs))
	if *updateGolden && !t.Failed() {
		b := capture.AppendPcapHeader(nil)
		for _, c := range cs {
			b = capture.AppendPcapRecord(b, c.Time, c.Frame, c.WireLen)
		}
		if err := os.WriteFile(wiretest.Kernel6File(), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(kernel6Golden, []byte(strings.Join(want, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTcpdumpKernelIPv6Golden replays the stored kernel IPv6 frames against
// the lines tcpdump printed for them.
func TestTcpdumpKernelIPv6Golden(t *testing.T) {
	cs := wiretest.Kernel6(t)
	data, err := os.ReadFile(kernel6Golden)
	if err != nil {
		t.Fatalf("%v (regenerate with go test -run TestTcpdumpKernelIPv6 -update, as root)", err)
	}
	want := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(want) != len(cs) {
		t.Fatalf("%s has %d lines for %d frames", kernel6Golden, len(want), len(cs))
	}
	compareLines(t, cs, ourLines(cs), want, kernel6Golden)
}

// waitFor polls cond every 50ms for up to 20s: for states the kernel
// reaches on its own timers (DAD), which no event announces.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within 20s", what)
}
