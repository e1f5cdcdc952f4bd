package main

// IPv6 with the kernel as the peer: smolfs serve in a namespace of the
// test's own where IPv6 stays on, tap0 turned to IPv6 through the tree
// (smolfs 9p), and the kernel's tools (ping -6, ip -6 neigh, ndisc6, rdisc6,
// radvd, tcpdump, and scapy for what those cannot send) as peers and judges.

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smolfs/smolfs/internal/testenv"
)

const (
	ourLL    = "fe80::ff:fe00:1" // EUI-64 of 02:00:00:00:00:01
	ourIP6   = "2001:db8::1"
	kernIP6  = "2001:db8::100"
	prefix6  = "/64"
	slaacIP6 = "2001:db8:1::ff:fe00:1"
)

// tree9p runs `smolfs 9p ARGS...` in ns against the server there, with
// stdin, and returns its output; it fails the test if the command fails.
func tree9p(t *testing.T, ns *testenv.Netns, stdin string, args ...string) string {
	t.Helper()
	cmd := ns.Command(smolfsBinary(t), append([]string{"9p"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("smolfs 9p %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// counters reads tap0/stats.
func counters(t *testing.T, ns *testenv.Netns) map[string]uint64 {
	t.Helper()
	m := map[string]uint64{}
	for _, l := range strings.Split(tree9p(t, ns, "", "read", "tap0/stats"), "\n") {
		if name, v, ok := strings.Cut(l, " "); ok {
			n, _ := strconv.ParseUint(v, 10, 64)
			m[name] = n
		}
	}
	return m
}

// running6 is running with IPv6: tap0's kernel side up with IPv6 (its
// link-local address through DAD), smolfs told `ipv6 on` and then ctl, and
// every address of both through DAD when it returns.
func running6(t *testing.T, ctl string) (*testenv.Netns, *proc) {
	t.Helper()
	ns := testenv.NewNetns(t)
	srv := startServe(t, ns)
	ns.Run("sysctl", "-qw", "net.ipv6.icmp.ratelimit=0")
	peer(t, ns)
	tree9p(t, ns, "ipv6 on\n"+ctl, "write", "tap0/ctl")
	settled(t, ns)
	return ns, srv
}

// settled waits until neither side has a tentative IPv6 address: DAD ends
// on timers of its own, which no event announces.
func settled(t *testing.T, ns *testenv.Netns) {
	t.Helper()
	ok := waitFor(20*time.Second, func() bool {
		return !strings.Contains(ns.Run("ip", "-6", "addr", "show", "dev", "tap0"), "tentative") &&
			!strings.Contains(tree9p(t, ns, "", "read", "tap0/addr"), "tentative")
	})
	if !ok {
		t.Fatalf("DAD did not end within 20s:\n%s\n%s", ns.Run("ip", "-6", "addr", "show", "dev", "tap0"), tree9p(t, ns, "", "read", "tap0/addr"))
	}
}

// kernelMAC is the hardware address of the kernel's side of tap0.
func kernelMAC(t *testing.T, ns *testenv.Netns) string {
	t.Helper()
	ifi, err := link(ns, "tap0")
	if err != nil {
		t.Fatal(err)
	}
	return ifi.HardwareAddr.String()
}

// pingOK runs ping -6 with args and checks that every request was
// answered with the right data. A deadline (-w) keeps ping waiting for
// every reply: without one it waits only twice the longest round trip
// after the last request, too little for a reply that a loaded machine
// delays.
func pingOK(t *testing.T, ns *testenv.Netns, args ...string) {
	t.Helper()
	out := ns.Run("ping", append([]string{"-6", "-w", "20"}, args...)...)
	n := args[slicesIndex(args, "-c")+1]
	if !strings.Contains(out, n+" packets transmitted, "+n+" received, 0% packet loss") {
		t.Errorf("ping -6 %s: loss:\n%s", strings.Join(args, " "), out)
	}
	for _, bad := range []string{"wrong data byte", "DUP!", "wrong total length"} {
		if strings.Contains(out, bad) {
			t.Errorf("ping -6 %s: %q:\n%s", strings.Join(args, " "), bad, out)
		}
	}
}

func slicesIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// The kernel pings our link-local address and a global one, with payloads
// that need fragments both ways; each side learns the other's MAC.
func TestPing6(t *testing.T) {
	testenv.RequireTool(t, "ping", "iputils-ping")
	ns, _ := running6(t, "add "+ourIP6+prefix6)
	ns.Run("ip", "-6", "addr", "add", kernIP6+prefix6, "dev", "tap0", "nodad")
	pingOK(t, ns, "-c", "3", "-i", "0.2", ourLL+"%tap0")
	pingOK(t, ns, "-c", "3", "-i", "0.2", "-s", "1452", "-p", "a5c3", ourIP6)
	pingOK(t, ns, "-c", "3", "-i", "0.2", "-s", "3000", ourIP6)
	pingOK(t, ns, "-c", "2", "-i", "0.2", "-s", "20000", ourIP6)
	pingOK(t, ns, "-c", "2", "-i", "0.2", "-s", "0", ourLL+"%tap0")
	if out := ns.Run("ip", "-6", "neigh", "show", ourLL, "dev", "tap0"); !strings.Contains(out, "lladdr "+ourMAC) {
		t.Errorf("ip -6 neigh show %s: %q, want lladdr %s", ourLL, out, ourMAC)
	}
	mac := kernelMAC(t, ns)
	arp := tree9p(t, ns, "", "read", "tap0/arp")
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(kernIP6) + ` ` + mac + ` (reachable|stale|delay|probe) \d+$`).MatchString(arp) {
		t.Errorf("tap0/arp does not have %s at %s:\n%s", kernIP6, mac, arp)
	}
	s := counters(t, ns)
	if s["icmp6_echo_rx"] < 13 || s["icmp6_echo_tx"] != s["icmp6_echo_rx"] || s["ipv6_reasm_ok"] < 5 {
		t.Errorf("icmp6_echo_rx %d, icmp6_echo_tx %d, ipv6_reasm_ok %d", s["icmp6_echo_rx"], s["icmp6_echo_tx"], s["ipv6_reasm_ok"])
	}
}

// DAD both ways: the kernel adding our address finds it in use
// (dadfailed); smolfs adding the kernel's marks it duplicate.
func TestDAD6BothWays(t *testing.T) {
	ns, _ := running6(t, "add "+ourIP6+prefix6)
	ns.Run("ip", "-6", "addr", "add", ourIP6+prefix6, "dev", "tap0")
	if !waitFor(20*time.Second, func() bool {
		return strings.Contains(ns.Run("ip", "-6", "addr", "show", "dev", "tap0"), "dadfailed")
	}) {
		t.Errorf("the kernel's copy of %s is not dadfailed:\n%s", ourIP6, ns.Run("ip", "-6", "addr", "show", "dev", "tap0"))
	}
	ns.Run("ip", "-6", "addr", "del", ourIP6+prefix6, "dev", "tap0")
	ns.Run("ip", "-6", "addr", "add", kernIP6+prefix6, "dev", "tap0")
	settled(t, ns)
	tree9p(t, ns, "add "+kernIP6+prefix6+"\n", "write", "tap0/ctl")
	want := kernIP6 + prefix6 + " duplicate"
	if !waitFor(20*time.Second, func() bool { return strings.Contains(tree9p(t, ns, "", "read", "tap0/addr"), want) }) {
		t.Errorf("tap0/addr lacks %q:\n%s", want, tree9p(t, ns, "", "read", "tap0/addr"))
	}
	if s := counters(t, ns); s["dad_duplicate"] != 1 {
		t.Errorf("dad_duplicate %d", s["dad_duplicate"])
	}
	if out := tree9p(t, ns, "", "read", "tap0/addr"); !strings.Contains(out, ourIP6+prefix6+"\n") {
		t.Errorf("our own address suffered:\n%s", out)
	}
}

// ndisc6 gets our hardware address; rdisc6 gets no advertisement, as a
// host must send none (RFC 4861 6.2.6 is for routers): its solicitations
// go to all-routers, a group a host is not in.
func TestNdisc6Rdisc6(t *testing.T) {
	testenv.RequireTool(t, "ndisc6", "ndisc6")
	testenv.RequireTool(t, "rdisc6", "ndisc6")
	ns, _ := running6(t, "add "+ourIP6+prefix6)
	ns.Run("ip", "-6", "addr", "add", kernIP6+prefix6, "dev", "tap0", "nodad")
	for _, target := range []string{ourLL, ourIP6} {
		out := ns.Run("ndisc6", "-1", "-r", "3", target, "tap0")
		if !strings.Contains(out, "Target link-layer address: "+strings.ToUpper(ourMAC)) {
			t.Errorf("ndisc6 %s:\n%s", target, out)
		}
	}
	out, err := ns.Command("rdisc6", "-1", "-r", "2", "-w", "300", "tap0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "No response") {
		t.Errorf("rdisc6 got an answer from a host (%v):\n%s", err, out)
	}
	if s := counters(t, ns); s["ndp_rx_ns"] < 2 || s["rx_not_for_us"] < 2 || s["ndp_rx_rs"] != 0 {
		t.Errorf("ndp_rx_ns %d, rx_not_for_us %d, ndp_rx_rs %d", s["ndp_rx_ns"], s["rx_not_for_us"], s["ndp_rx_rs"])
	}
}

// radvd on the kernel's side advertises a prefix; with autoconf on, the
// host forms its address from it and the kernel pings that.
func TestRadvdAutoconf(t *testing.T) {
	testenv.RequireTool(t, "radvd", "radvd")
	testenv.RequireTool(t, "ping", "iputils-ping")
	ns := testenv.NewNetns(t)
	startServe(t, ns)
	ns.Run("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
	peer(t, ns)
	ns.Run("ip", "-6", "addr", "add", "2001:db8:1::100/64", "dev", "tap0", "nodad")
	conf := filepath.Join(t.TempDir(), "radvd.conf")
	os.WriteFile(conf, []byte(`interface tap0 {
	AdvSendAdvert on;
	MinRtrAdvInterval 30;
	MaxRtrAdvInterval 60;
	AdvLinkMTU 1400;
	prefix 2001:db8:1::/64 { AdvValidLifetime 3600; AdvPreferredLifetime 1800; };
	RDNSS 2001:db8:1::53 { };
};
`), 0o644)
	start(t, "radvd", ns.Command("radvd", "-n", "-C", conf, "-p", filepath.Join(t.TempDir(), "radvd.pid"), "-m", "stderr"))
	tree9p(t, ns, "ipv6 autoconf on\n", "write", "tap0/ctl")
	want := slaacIP6 + prefix6 + "\n"
	if !waitFor(20*time.Second, func() bool { return strings.Contains(tree9p(t, ns, "", "read", "tap0/addr"), want) }) {
		t.Fatalf("no address from radvd's prefix:\n%s\n%s", tree9p(t, ns, "", "read", "tap0/addr"), tree9p(t, ns, "", "read", "tap0/stats"))
	}
	pingOK(t, ns, "-c", "3", "-i", "0.2", slaacIP6)
	pingOK(t, ns, "-c", "2", "-i", "0.2", "-s", "2000", slaacIP6) // in fragments of the advertised MTU
	s := counters(t, ns)
	if s["ndp_rx_ra"] < 1 || s["ndp_tx_rs"] < 1 {
		t.Errorf("ndp_rx_ra %d, ndp_tx_rs %d", s["ndp_rx_ra"], s["ndp_tx_rs"])
	}
	if arp := tree9p(t, ns, "", "read", "tap0/arp"); !strings.Contains(arp, "fe80::") {
		t.Errorf("the router is not in tap0/arp:\n%s", arp)
	}
}

// Frames no kernel socket sends, from scapy on the kernel's side: each
// gets the right answer or a counted drop, and the host keeps answering.
func TestIPv6RawFrames(t *testing.T) {
	py := testenv.RequireScapy(t)
	testenv.RequireTool(t, "ping", "iputils-ping")
	ns, _ := running6(t, "add "+ourIP6+prefix6)
	ns.Run("ip", "-6", "addr", "add", kernIP6+prefix6, "dev", "tap0", "nodad")
	pingOK(t, ns, "-c", "1", ourIP6) // both sides know each other
	mac := kernelMAC(t, ns)
	before := counters(t, ns)
	// Each case sends its frames and then an echo request as a marker:
	// the host answers in order, so what it sent before the marker's
	// reply is all it will send for the case.
	script := `
import threading
from scapy.all import *
conf.verb = 0
us, them = "` + ourMAC + `", "` + mac + `"
eth = Ether(src=them, dst=us)
src, dst = "` + kernIP6 + `", "` + ourIP6 + `"
ip = IPv6(src=src, dst=dst)
seq = [100]
def name(p):
    if ICMPv6ParamProblem in p:
        return "param problem code %d ptr %d" % (p[ICMPv6ParamProblem].code, p[ICMPv6ParamProblem].ptr)
    if ICMPv6EchoReply in p:
        return "echo reply %d" % p[ICMPv6EchoReply].seq
    if ICMPv6ND_NA in p:
        return "neighbor advertisement to %s for %s, %s" % (p[IPv6].dst, p[ICMPv6ND_NA].tgt, p[ICMPv6NDOptDstLLAddr].lladdr)
    return p.lastlayer().summary()
def case(title, *frames):
    seq[0] += 1
    marker = seq[0]
    ready = threading.Event()
    done = lambda p: ICMPv6EchoReply in p and p[ICMPv6EchoReply].seq == marker
    s = AsyncSniffer(iface="tap0", lfilter=lambda p: Ether in p and p[Ether].src == us and IPv6 in p and ICMPv6MLReport2 not in p,
                     stop_filter=done, timeout=10, started_callback=ready.set)
    s.start()
    ready.wait()
    sendp(list(frames) + [eth/ip/ICMPv6EchoRequest(id=2, seq=marker)], iface="tap0")
    s.join()
    got = [name(p) for p in s.results if not done(p)]
    print("%s: %s" % (title, "; ".join(got) if got else "nothing"))
case("unknown next header", eth/IPv6(src=src, dst=dst, nh=150)/Raw(b"x"*8))
case("unknown option 10", eth/ip/IPv6ExtHdrHopByHop(options=[HBHOptUnknown(otype=0x87, optdata=b"ab")])/ICMPv6EchoRequest(id=1, seq=1))
case("unknown option 01", eth/ip/IPv6ExtHdrHopByHop(options=[HBHOptUnknown(otype=0x47, optdata=b"ab")])/ICMPv6EchoRequest(id=1, seq=1))
case("padded hop-by-hop", eth/ip/IPv6ExtHdrHopByHop(options=[PadN(optdata=b"\0\0\0\0")])/ICMPv6EchoRequest(id=1, seq=2))
case("destination options", eth/ip/IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0\0\0\0")])/ICMPv6EchoRequest(id=1, seq=3))
case("routing type 0", eth/ip/IPv6ExtHdrRouting(type=0, segleft=1, addresses=["2001:db8::9"])/ICMPv6EchoRequest(id=1, seq=4))
payload = bytes(ip/ICMPv6EchoRequest(id=1, seq=5, data=b"x"*64))[40:]
case("overlapping fragments", eth/ip/IPv6ExtHdrFragment(nh=58, offset=0, m=1, id=7)/Raw(payload[:48]), eth/ip/IPv6ExtHdrFragment(nh=58, offset=4, m=0, id=7)/Raw(payload[32:]))
case("fragments", eth/ip/IPv6ExtHdrFragment(nh=58, offset=6, m=0, id=8)/Raw(payload[48:]), eth/ip/IPv6ExtHdrFragment(nh=58, offset=0, m=1, id=8)/Raw(payload[:48]))
sn = in6_getnsma(inet_pton(socket.AF_INET6, dst))
case("DAD probe", Ether(src=them, dst=in6_getnsmac(sn))/IPv6(src="::", dst=inet_ntop(socket.AF_INET6, sn))/ICMPv6ND_NS(tgt=dst)/Raw(b"\x0e\x01abcdef"))
case("spoofed advertisement", Ether(src="02:00:00:00:00:99", dst="33:33:00:00:00:01")/IPv6(src="fe80::99", dst="ff02::1")/ICMPv6ND_NA(tgt=dst, R=0, S=0, O=1)/ICMPv6NDOptDstLLAddr(lladdr="02:00:00:00:00:99"))
ra = Ether(src=them, dst="33:33:00:00:00:01")/IPv6(src="fe80::1", dst="ff02::1")/ICMPv6ND_RA(routerlifetime=1800)
case("odd advertisements", ra/ICMPv6NDOptPrefixInfo(prefixlen=200, prefix="2001:db8:5::"), ra/ICMPv6NDOptMTU(mtu=100)/Raw(b"\x63\x01\0\0\0\0\0\0"), ra/Raw(b"\x01\x00\0\0\0\0\0\0"))
`
	out := ns.Run(py, "-c", script)
	for _, want := range []string{
		"unknown next header: param problem code 1 ptr 6\n",
		"unknown option 10: param problem code 2 ptr 42\n",
		"unknown option 01: nothing\n",
		"padded hop-by-hop: echo reply 2\n",
		"destination options: echo reply 3\n",
		"routing type 0: param problem code 0 ptr 42\n",
		"overlapping fragments: nothing\n",
		"fragments: echo reply 5\n",
		"DAD probe: neighbor advertisement to ff02::1 for " + ourIP6 + ", " + ourMAC + "\n",
		"spoofed advertisement: nothing\n",
		"odd advertisements: nothing\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scapy: no %q in:\n%s", want, out)
		}
	}
	after := counters(t, ns)
	for name, min := range map[string]uint64{
		"ipv6_rx_unknown_next_header": 1, "ipv6_rx_bad_header": 2, "ipv6_rx_frag_overlap": 1, "ndp_conflicts": 1,
		"ndp_rx_ra": 1, "ndp_rx_invalid": 2, "icmp6_error_tx": 3, "icmp6_echo_rx": 14,
	} {
		if d := after[name] - before[name]; d < min {
			t.Errorf("%s went up by %d, want at least %d", name, d, min)
		}
	}
	checkFates(t, "tap0", after)
	if a := tree9p(t, ns, "", "read", "tap0/addr"); strings.Contains(a, "duplicate") || strings.Contains(a, "2001:db8:5") {
		t.Errorf("tap0/addr after the odd frames:\n%s", a)
	}
}

// The frames file shows the IPv6 traffic as tcpdump on the kernel's side
// of tap0 does, line for line but the time stamps.
func TestFrames6MatchTcpdump(t *testing.T) {
	testenv.RequireTool(t, "tcpdump", "tcpdump")
	testenv.RequireTool(t, "ping", "iputils-ping")
	testenv.RequireTool(t, "ndisc6", "ndisc6")
	ns, _ := running6(t, "add "+ourIP6+prefix6)
	live := start(t, "tcpdump -i tap0", ns.Command("tcpdump", "-tt", "-e", "-n", "-l", "--immediate-mode", "-i", "tap0"))
	frames := start(t, "smolfs 9p read tap0/frames", ns.Command(smolfsBinary(t), "9p", "read", "tap0/frames"))
	if !waitFor(10*time.Second, func() bool { return live.done() || strings.Contains(live.stderr.String(), "listening on tap0") }) || live.done() {
		t.Fatalf("tcpdump did not start:\n%s", live.stderr)
	}
	// The frames reader starts at its open; a ping both see marks it.
	marker := func() bool {
		ns.Run("ping", "-6", "-c", "1", "-W", "1", ourLL+"%tap0")
		return strings.Contains(frames.stdout.String(), "echo reply")
	}
	if !waitFor(10*time.Second, marker) {
		t.Fatalf("the frames reader saw nothing:\n%s", frames.stderr)
	}
	// Both readers see everything from now on: a ping of its own size
	// marks where both outputs are compared from.
	ns.Run("ping", "-6", "-c", "1", "-s", "77", ourLL+"%tap0")
	ns.Run("ip", "-6", "addr", "add", kernIP6+prefix6, "dev", "tap0", "nodad")
	ns.Run("ip", "-6", "neigh", "flush", "dev", "tap0")
	pingOK(t, ns, "-c", "3", "-i", "0.1", ourIP6)
	pingOK(t, ns, "-c", "2", "-i", "0.1", "-s", "4000", ourIP6)
	ns.Run("ndisc6", "-1", ourIP6, "tap0")
	ns.Command("ping", "-6", "-c", "1", "-W", "1", "-t", "1", "2001:db8::77").Run() // unanswered solicitations
	ns.Run("bash", "-c", "echo hello > /dev/udp/"+ourIP6+"/7")                      // a port unreachable
	lines := func(p *proc) []string {
		var r []string
		for _, l := range strings.Split(strings.TrimRight(p.stdout.String(), "\n"), "\n") {
			if _, rest, ok := strings.Cut(l, " "); ok && strings.Contains(l, "IPv6") {
				r = append(r, rest) // without the time stamp
			}
		}
		return r
	}
	prev := -1
	waitFor(10*time.Second, func() bool {
		n := len(lines(live))
		same := n > 0 && n == len(lines(frames)) && n == prev
		prev = n
		return same
	})
	live.signal(t, syscall.SIGINT)
	frames.signal(t, syscall.SIGINT)
	live.wait(t, 10*time.Second)
	frames.wait(t, 10*time.Second)
	want, got := lines(live), lines(frames)
	// Both began before the marker ping; the first lines may differ by
	// what one saw before the other started: compare from the marker.
	from := func(ls []string) []string {
		for i, l := range ls {
			if strings.Contains(l, "echo reply") && strings.HasSuffix(l, "length 85") {
				return ls[i+1:]
			}
		}
		return nil
	}
	want, got = from(want), from(got)
	if d := lineDiff(want, got); d != "" {
		t.Errorf("tap0/frames differs from tcpdump -i tap0 (- tcpdump, + frames):\n%s", d)
	}
	kinds := 0
	for _, k := range []string{"echo request", "echo reply", "neighbor solicitation", "neighbor advertisement", "frag (", "unreachable port"} {
		if strings.Contains(strings.Join(want, "\n"), k) {
			kinds++
		}
	}
	if kinds != 6 || len(want) < 20 {
		t.Errorf("compared %d lines with %d of 6 kinds:\n%s", len(want), kinds, strings.Join(want, "\n"))
	}
	t.Logf("compared %d IPv6 lines", len(want))
}

// UDP over IPv6 both ways against the kernel: nc -6 and socat talk to
// `smolfs listen -service echo`, on the global and the link-local address,
// with a datagram that needs fragments both ways; smolfs dial talks to
// socat; a datagram to a port nobody has gets the kernel a refusal.
func TestUDP6(t *testing.T) {
	testenv.RequireTool(t, "socat", "socat")
	testenv.RequireTool(t, "nc", "netcat-openbsd")
	ns, _ := running6(t, "add "+ourIP6+prefix6)
	ns.Run("ip", "-6", "addr", "add", kernIP6+prefix6, "dev", "tap0", "nodad")
	startListen(t, ns, "-service", "echo", "udp!*!7")
	for _, c := range []struct {
		dst string
		n   int
	}{{ourIP6, 100}, {ourIP6, 3000}, {ourLL + "%tap0", 1400}} {
		payload := randomBytes(c.n)
		cmd := ns.Command("nc", "-6", "-u", "-W", "1", "-w", "60", c.dst, "7")
		cmd.Stdin = strings.NewReader(string(payload))
		got, err := cmd.Output()
		if err != nil || string(got) != string(payload) {
			t.Errorf("nc -6 to %s, %d bytes: %d back, %v", c.dst, c.n, len(got), err)
		}
	}
	got, err := func() ([]byte, error) {
		cmd := ns.Command("socat", "-T", "60", "STDIO", "UDP6:["+ourIP6+"]:7")
		in, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		out := &lockedBuffer{}
		cmd.Stdout = out
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		in.Write([]byte("socat over IPv6\n"))
		waitFor(time.Minute, func() bool { return len(out.String()) >= 16 })
		in.Close()
		err = cmd.Wait()
		return []byte(out.String()), err
	}()
	if err != nil || string(got) != "socat over IPv6\n" {
		t.Errorf("socat UDP6: %q, %v", got, err)
	}
	// smolfs dial to socat's echo on the kernel's side.
	echo := start(t, "socat UDP6-LISTEN", ns.Command("socat", "-T", "60", "UDP6-LISTEN:9000,bind=["+kernIP6+"]", "PIPE"))
	if !waitFor(time.Minute, func() bool {
		return echo.done() || strings.Contains(ns.Run("ss", "-Hlun", "sport", "=", ":9000"), kernIP6)
	}) || echo.done() {
		t.Fatalf("socat did not listen:\n%s", echo.stderr)
	}
	payload := append([]byte("hello over IPv6\n"), randomBytes(2500)...) // fragments both ways
	cmd := ns.Command(smolfsBinary(t), "dial", "udp!"+kernIP6+"!9000")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	dial := start(t, "smolfs dial", cmd)
	in.Write(payload)
	if !waitFor(time.Minute, func() bool { return dial.done() || len(dial.stdout.String()) >= len(payload) }) {
		t.Fatalf("no echo through dial:\n%s", dial.stderr)
	}
	if got := dial.stdout.String(); got != string(payload) {
		t.Errorf("dial printed %d bytes, want the %d sent", len(got), len(payload))
	}
	in.Close()
	dial.signal(t, syscall.SIGINT)
	dial.wait(t, time.Minute)
	// A port nobody has: the kernel hears it refused.
	out, err := ns.Command("bash", "-c", "exec 3<>/dev/udp/"+ourIP6+"/9 && echo x >&3 && sleep 0.5 && echo y >&3").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Connection refused") {
		t.Errorf("UDP to port 9: %v %q, want it refused", err, out)
	}
	if s := counters(t, ns); s["udp_rx"] < 5 || s["udp_rx_no_port"] < 1 || s["icmp6_error_tx"] < 1 || s["ipv6_reasm_ok"] < 2 {
		t.Errorf("udp_rx %d, udp_rx_no_port %d, icmp6_error_tx %d, ipv6_reasm_ok %d", s["udp_rx"], s["udp_rx_no_port"], s["icmp6_error_tx"], s["ipv6_reasm_ok"])
	}
}
