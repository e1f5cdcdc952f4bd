package devices

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smolfs/smolfs/internal/testenv"
	"github.com/smolfs/smolfs/netcore"
	"github.com/smolfs/smolfs/netcore/wire"
)

// IPv4, finished (issue 9), against the kernel: a host on a tap in a test
// namespace, the kernel's ping, traceroute and nftables on the other side,
// and raw frames written to the tap from the namespace.

// ipv4Host runs a host on tap0 in a new namespace, whose kernel side is
// 192.168.69.100/24. Reassembly gives up after a second, so that tests of
// its timeout need not wait 30.
func ipv4Host(t *testing.T) (*testenv.Netns, *Driver) {
	t.Helper()
	ns, tap := tapInNetns(t)
	h, err := netcore.NewHost(netcore.Config{Name: "tap0", MAC: hostMAC, Addrs: []netip.Prefix{hostPfx}, ReasmTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDriver(h, tap, nil)
	t.Cleanup(func() { d.Close() })
	ns.Run("sysctl", "-q", "-w", "net.ipv4.icmp_ratelimit=0") // the kernel's answers are not what is measured
	return ns, d
}

// waitStat waits until counter c of the host reaches at least want.
func waitStat(t *testing.T, d *Driver, c netcore.Counter, want uint64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for d.Snapshot().Stats[c] < want {
		if time.Now().After(deadline) {
			st := d.Snapshot().Stats
			t.Fatalf("%s is %d, want %d\n%s", c, st[c], want, st.Append(nil))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// kernelICMP reads the namespace's ICMP counters (/proc/net/snmp).
func kernelICMP(t *testing.T, ns *testenv.Netns) map[string]uint64 {
	t.Helper()
	var names, values []string
	for _, l := range strings.Split(ns.Run("cat", "/proc/net/snmp"), "\n") {
		if !strings.HasPrefix(l, "Icmp: ") {
			continue
		}
		if names == nil {
			names = strings.Fields(l)[1:]
		} else {
			values = strings.Fields(l)[1:]
		}
	}
	m := map[string]uint64{}
	for i := range min(len(names), len(values)) {
		m[names[i]], _ = strconv.ParseUint(values[i], 10, 64)
	}
	return m
}

// waitKernelICMP waits until the namespace's ICMP counter name has grown
// by at least n since before.
func waitKernelICMP(t *testing.T, ns *testenv.Netns, before map[string]uint64, name string, n uint64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for kernelICMP(t, ns)[name] < before[name]+n {
		if time.Now().After(deadline) {
			t.Fatalf("the kernel's %s grew by %d, want %d", name, kernelICMP(t, ns)[name]-before[name], n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestKernelPingLarge(t *testing.T) {
	testenv.RequireTool(t, "ping", "iputils-ping")
	ns, d := ipv4Host(t)
	for _, size := range []string{"3000", "65507"} {
		out, err := ns.Command("ping", "-c", "3", "-i", "0.2", "-w", "60", "-s", size, hostIP.String()).CombinedOutput()
		checkAnswered(t, "ping -s "+size, out, err, 3)
		if want := fmt.Sprintf("%d bytes from %s: icmp_seq=1", mustAtoi(size)+8, hostIP); !strings.Contains(string(out), want) {
			t.Errorf("ping -s %s printed no %q:\n%s", size, want, out)
		}
	}
	st := d.Snapshot().Stats
	if st[netcore.IPv4Reassembled] != 6 || st[netcore.IPv4TxFragments] != 3*3+3*45 {
		t.Errorf("reassembled %d, fragments sent %d; want 6 and %d", st[netcore.IPv4Reassembled], st[netcore.IPv4TxFragments], 3*3+3*45)
	}
}

func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

// TestKernelPingOptions: ping -R and ping -T print what they print against
// Linux: the route with this host twice, four timestamps.
func TestKernelPingOptions(t *testing.T) {
	testenv.RequireTool(t, "ping", "iputils-ping")
	ns, _ := ipv4Host(t)
	for _, c := range []struct {
		args []string
		want *regexp.Regexp
	}{
		{[]string{"-R"}, regexp.MustCompile(`\nRR: \t192\.168\.69\.100\n\t192\.168\.69\.1\n\t192\.168\.69\.1\n\t192\.168\.69\.100\n`)},
		{[]string{"-T", "tsonly"}, regexp.MustCompile(`\nTS: \t\d+ absolute\n\t-?\d+\n\t-?\d+\n\t-?\d+\n`)},
		{[]string{"-T", "tsandaddr"}, regexp.MustCompile(`\nTS: \t192\.168\.69\.100\t\d+ absolute\n\t192\.168\.69\.1\t-?\d+\n\t192\.168\.69\.1\t-?\d+\n\t192\.168\.69\.100\t-?\d+\n`)},
	} {
		args := append([]string{"-c", "1", "-w", "10"}, c.args...)
		out, err := ns.Command("ping", append(args, hostIP.String())...).CombinedOutput()
		if err != nil || !c.want.Match(out) {
			t.Errorf("ping %s: %v\n%s\nwant it to match %s", strings.Join(c.args, " "), err, out, c.want)
		}
	}
}

// TestKernelTraceroute: traceroute -U ends at the host, in one hop.
func TestKernelTraceroute(t *testing.T) {
	testenv.RequireTool(t, "traceroute", "traceroute")
	ns, d := ipv4Host(t)
	out, err := ns.Command("traceroute", "-n", "-U", "-w", "5", hostIP.String()).CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	// One hop, ended by port unreachables: no mark after the times.
	if err != nil || len(lines) != 2 || !strings.HasPrefix(lines[1], " 1  192.168.69.1  ") || strings.Contains(lines[1], "!") {
		t.Fatalf("traceroute: %v\n%s", err, out)
	}
	if st := d.Snapshot().Stats; st[netcore.ICMPTxUnreachable] == 0 {
		t.Errorf("no unreachable sent")
	}
}

// injector writes raw frames into the tap from its kernel side, as if a
// station behind it sent them.
type injector struct {
	t       *testing.T
	fd      int
	ifindex int
	mac     wire.MAC // the kernel side's
}

func newInjector(t *testing.T, ns *testenv.Netns) *injector {
	t.Helper()
	in := &injector{t: t}
	mac, err := wire.ParseMAC(strings.TrimSpace(ns.Run("cat", "/sys/class/net/tap0/address")))
	if err != nil {
		t.Fatal(err)
	}
	in.mac = mac
	err = ns.Do(func() error {
		ifi, err := net.InterfaceByName("tap0")
		if err != nil {
			return err
		}
		in.ifindex = ifi.Index
		in.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(in.fd) })
	return in
}

func (in *injector) send(frame []byte) {
	in.t.Helper()
	if err := unix.Sendto(in.fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: in.ifindex, Halen: 6}); err != nil {
		in.t.Fatalf("inject: %v", err)
	}
}

// ip is an IPv4 frame from the kernel side to the host.
func (in *injector) ip(ethDst wire.MAC, r wire.IPv4Repr, opts, payload []byte) []byte {
	b := wire.EthernetRepr{Dst: ethDst, Src: in.mac, Type: wire.EtherTypeIPv4}.Append(nil)
	r.PayloadLen = len(payload)
	return wire.PadFrame(append(r.AppendOptions(b, opts), payload...))
}

// frags cuts an ICMP message into fragments of size bytes of the datagram
// id; each is [offset, end) with MF as it should be.
func (in *injector) frags(id uint16, msg []byte, size int) [][]byte {
	var fs [][]byte
	for off := 0; off < len(msg); off += size {
		end := min(off+size, len(msg))
		r := wire.IPv4Repr{Src: peerIP, Dst: hostIP, Protocol: wire.ProtoICMP, TTL: 64, ID: id, MF: end < len(msg), FragOffset: off}
		fs = append(fs, in.ip(hostMAC, r, nil, msg[off:end]))
	}
	return fs
}

func echoMsg(id uint16, n int) []byte {
	return wire.ICMPEchoRepr{Type: wire.ICMPEchoRequest, Ident: id, Seq: 1, Data: bytes.Repeat([]byte{0xa5}, n)}.Append(nil)
}

// TestKernelFragmentSets writes fragment sets of every kind into the tap:
// out of order and duplicated (answered), overlapping (dropped whole),
// never finished (time exceeded once each, when the first came), and a
// flood of them (the bounds hold, and the host answers a ping after).
func TestKernelFragmentSets(t *testing.T) {
	ns, d := ipv4Host(t)
	in := newInjector(t, ns)
	pingOK(t, ns) // the host knows the kernel side now
	k0 := kernelICMP(t, ns)
	st0 := d.Snapshot().Stats

	// Out of order, with duplicates: one reply. (A duplicate after the
	// last would start a datagram of its own, and time out.)
	fs := in.frags(100, echoMsg(100, 4000), 1480)
	for _, i := range []int{2, 0, 2, 0, 1} {
		in.send(fs[i])
	}
	waitStat(t, d, netcore.IPv4Reassembled, st0[netcore.IPv4Reassembled]+1)
	waitKernelICMP(t, ns, k0, "InEchoReps", 1)

	// Overlapping: the second fragment starts 8 bytes into the first.
	msg := echoMsg(101, 2000)
	r := wire.IPv4Repr{Src: peerIP, Dst: hostIP, Protocol: wire.ProtoICMP, TTL: 64, ID: 101}
	r.MF = true
	in.send(in.ip(hostMAC, r, nil, msg[:1000]))
	r.MF, r.FragOffset = false, 992
	in.send(in.ip(hostMAC, r, nil, msg[992:]))
	waitStat(t, d, netcore.IPv4RxFragOverlap, st0[netcore.IPv4RxFragOverlap]+1)

	// Never finished: three with their first fragment, two without.
	for id := uint16(200); id < 205; id++ {
		fs := in.frags(id, echoMsg(id, 3000), 1480)
		in.send(fs[1])
		if id < 203 {
			in.send(fs[0])
		}
	}
	waitStat(t, d, netcore.IPv4ReasmTimeout, st0[netcore.IPv4ReasmTimeout]+5)
	waitKernelICMP(t, ns, k0, "InTimeExcds", 3)
	time.Sleep(1500 * time.Millisecond) // past another timeout: nothing more may come
	if st, k := d.Snapshot().Stats, kernelICMP(t, ns); st[netcore.ICMPTxTimeExceeded]-st0[netcore.ICMPTxTimeExceeded] != 3 || k["InTimeExcds"]-k0["InTimeExcds"] != 3 {
		t.Errorf("time exceeded: %d sent, %d received; want 3", st[netcore.ICMPTxTimeExceeded]-st0[netcore.ICMPTxTimeExceeded], k["InTimeExcds"]-k0["InTimeExcds"])
	}

	// A flood of first fragments: no more than the bound held at once.
	st1 := d.Snapshot().Stats
	for id := range uint16(3000) {
		in.send(in.frags(1000+id, echoMsg(id, 3000), 1480)[0])
	}
	waitStat(t, d, netcore.IPv4RxFragNoRoom, st1[netcore.IPv4RxFragNoRoom]+1)
	waitStat(t, d, netcore.IPv4ReasmTimeout, st1[netcore.IPv4ReasmTimeout]+1)
	st := d.Snapshot().Stats
	held := st[netcore.IPv4RxFragment] - st1[netcore.IPv4RxFragment]
	// (The tap's queue may drop some of 3000 at once: not all need arrive.)
	if noRoom := st[netcore.IPv4RxFragNoRoom] - st1[netcore.IPv4RxFragNoRoom]; held+noRoom > 3000 || held < netcore.MaxReassembly {
		t.Errorf("of 3000: %d held, %d no room", held, noRoom)
	}
	pingOK(t, ns)
}

// TestKernelOptionsZoo: echo requests with every kind of option; those
// with Record Route, Timestamp, or options to skip are answered, source
// routes dropped, malformed ones get a parameter problem.
func TestKernelOptionsZoo(t *testing.T) {
	ns, d := ipv4Host(t)
	in := newInjector(t, ns)
	pingOK(t, ns)
	k0 := kernelICMP(t, ns)
	st0 := d.Snapshot().Stats
	peer := peerIP.AsSlice()
	answered := [][]byte{
		{wire.IPv4OptNOP, wire.IPv4OptNOP, wire.IPv4OptNOP, wire.IPv4OptEnd},
		{wire.IPv4OptRA, 4, 0, 0},
		{0x9e, 6, 1, 2, 3, 4, wire.IPv4OptEnd, 0}, // unknown, copied
		{0x1e, 3, 9, wire.IPv4OptNOP},             // unknown, not copied
		append([]byte{wire.IPv4OptRR, 39, 4}, make([]byte, 36)...),
		append([]byte{wire.IPv4OptTimestamp, 40, 5, wire.IPv4TSOnly}, make([]byte, 36)...),
		append([]byte{wire.IPv4OptTimestamp, 36, 5, wire.IPv4TSAndAddr}, make([]byte, 32)...),
		append(append([]byte{wire.IPv4OptTimestamp, 12, 5, wire.IPv4TSPrespec}, hostIP.AsSlice()...), 0, 0, 0, 0),
		{wire.IPv4OptTimestamp, 8, 9, 0xf0 | wire.IPv4TSPrespec, 0, 0, 0, 0}, // full prespec: overflow is not counted
		{wire.IPv4OptRR, 7, 8, 1, 2, 3, 4, wire.IPv4OptEnd},                  // full
	}
	sourceRouted := [][]byte{
		append([]byte{wire.IPv4OptLSRR, 7, 4}, peer...),
		append([]byte{wire.IPv4OptSSRR, 7, 4}, peer...),
	}
	malformed := [][]byte{
		{wire.IPv4OptRR, 2, 4, 0},
		{wire.IPv4OptRR, 6, 4, 0, 0, 0, 0, 0},
		{wire.IPv4OptTimestamp, 8, 5, 0xf0, 0, 0, 0, 0, wire.IPv4OptTimestamp, 4, 5, 0},
		{wire.IPv4OptTimestamp, 4, 5, 0xf0},
		{0x44, 1, 0, 0},
		{wire.IPv4OptNOP, 0x9e},
	}
	send := func(opts [][]byte) {
		for i, o := range opts {
			r := wire.IPv4Repr{Src: peerIP, Dst: hostIP, Protocol: wire.ProtoICMP, TTL: 64, ID: uint16(500 + i)}
			in.send(in.ip(hostMAC, r, o, echoMsg(uint16(i), 16)))
		}
	}
	send(answered)
	send(sourceRouted)
	send(malformed)
	waitStat(t, d, netcore.IPv4RxBadOptions, st0[netcore.IPv4RxBadOptions]+uint64(len(malformed)))
	waitKernelICMP(t, ns, k0, "InEchoReps", uint64(len(answered)))
	waitKernelICMP(t, ns, k0, "InParmProbs", uint64(len(malformed)))
	st := d.Snapshot().Stats
	if n := st[netcore.IPv4RxSourceRoute] - st0[netcore.IPv4RxSourceRoute]; n != uint64(len(sourceRouted)) {
		t.Errorf("%d source routes counted, want %d", n, len(sourceRouted))
	}
	if n := st[netcore.ICMPEchoTx] - st0[netcore.ICMPEchoTx]; n != uint64(len(answered)) {
		t.Errorf("%d echo replies, want %d", n, len(answered))
	}
}

// TestKernelErrorsNotAnswered writes datagrams that would each earn an ICMP
// error but for RFC 1122 3.2.2: none reaches the kernel.
func TestKernelErrorsNotAnswered(t *testing.T) {
	ns, d := ipv4Host(t)
	in := newInjector(t, ns)
	pingOK(t, ns)
	k0 := kernelICMP(t, ns)
	st0 := d.Snapshot().Stats
	badOpts := []byte{wire.IPv4OptRR, 2, 4, 0}
	quote := in.ip(hostMAC, wire.IPv4Repr{Src: hostIP, Dst: peerIP, Protocol: wire.ProtoUDP, TTL: 64}, nil, make([]byte, 8))[wire.EthHeaderLen:]
	unreach := wire.ICMPErrorRepr{Type: wire.ICMPDestUnreachable, Code: wire.ICMPPortUnreachable, Quote: quote}.Append(nil)
	icmp := wire.IPv4Repr{Src: peerIP, Dst: hostIP, Protocol: wire.ProtoICMP, TTL: 64}
	proto := wire.IPv4Repr{Src: peerIP, Dst: hostIP, Protocol: 253, TTL: 64}
	from := func(src string) wire.IPv4Repr { r := proto; r.Src = netip.MustParseAddr(src); return r }
	later := proto
	later.FragOffset = 8
	frames := [][]byte{
		in.ip(hostMAC, icmp, badOpts, unreach),                               // about an ICMP error
		in.ip(hostMAC, icmp, badOpts, []byte{42, 0, 0xd5, 0xff, 0, 0, 0, 0}), // an ICMP type nobody knows
		in.ip(wire.BroadcastMAC, proto, nil, []byte("x")),                    // a link-layer broadcast
		in.ip(hostMAC, from("0.0.0.0"), nil, []byte("x")),                    // sources that are no host
		in.ip(hostMAC, from("192.168.69.255"), nil, []byte("x")),
		in.ip(hostMAC, from("224.0.0.9"), nil, []byte("x")),
		in.ip(hostMAC, from("127.0.0.1"), nil, []byte("x")),
		in.ip(hostMAC, later, badOpts, make([]byte, 8)), // a later fragment
	}
	for _, f := range frames {
		in.send(f)
	}
	waitStat(t, d, netcore.ICMPTxSuppressed, st0[netcore.ICMPTxSuppressed]+uint64(len(frames)))
	pingOK(t, ns) // a ping behind them: they have all been handled
	st, k := d.Snapshot().Stats, kernelICMP(t, ns)
	for _, c := range []netcore.Counter{netcore.ICMPTxUnreachable, netcore.ICMPTxParamProblem, netcore.ICMPTxTimeExceeded} {
		if st[c] != st0[c] {
			t.Errorf("%s went from %d to %d", c, st0[c], st[c])
		}
	}
	for _, c := range []string{"InDestUnreachs", "InParmProbs", "InTimeExcds"} {
		if k[c] != k0[c] {
			t.Errorf("the kernel's %s went from %d to %d", c, k0[c], k[c])
		}
	}
}

// TestKernelUDPFloodRateLimit floods the host with UDP to closed ports:
// the errors it sends keep to 50 at once and 1000 a second, and every one
// of them reaches the kernel.
func TestKernelUDPFloodRateLimit(t *testing.T) {
	ns, d := ipv4Host(t)
	pingOK(t, ns)
	k0 := kernelICMP(t, ns)
	st0 := d.Snapshot().Stats
	const n = 5000
	start := time.Now()
	err := ns.Do(func() error {
		c, err := net.ListenPacket("udp4", "192.168.69.100:0")
		if err != nil {
			return err
		}
		defer c.Close()
		for i := range n {
			// Not connected: a connected socket's sends would fail with
			// the errors coming back.
			if _, err := c.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IP(hostIP.AsSlice()), Port: 9 + i%100}); err != nil {
				return err
			}
			if i%100 == 99 {
				time.Sleep(time.Millisecond) // 100000/s at most: less for the tap's queue to drop
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pingOK(t, ns) // its reply comes after every datagram before it
	elapsed := time.Since(start)
	st := d.Snapshot().Stats
	unreach := st[netcore.ICMPTxUnreachable] - st0[netcore.ICMPTxUnreachable]
	limited := st[netcore.ICMPTxRateLimited] - st0[netcore.ICMPTxRateLimited]
	if unreach+limited < 1000 || unreach+limited > n {
		t.Fatalf("%d unreachable and %d rate-limited for %d datagrams sent", unreach, limited, n)
	}
	bound := uint64(netcore.ICMPErrorBurst) + uint64(elapsed.Seconds()*netcore.ICMPErrorRate) + 1
	if unreach > bound || limited == 0 {
		t.Errorf("%d unreachable in %v (at most %d allowed), %d rate-limited", unreach, elapsed, bound, limited)
	}
	waitKernelICMP(t, ns, k0, "InDestUnreachs", unreach)
	t.Logf("%d datagrams in %v: %d unreachable sent, %d rate-limited", n, elapsed, unreach, limited)
}

// TestKernelFragmentedPingsRandomDrop: fragmented pings through a kernel
// router whose nftables drops one packet in ten at random. The router
// forwards fragments one by one (no conntrack, so no defragmentation), so
// some datagrams lose some of their fragments; the host answers every
// datagram it completes, through its route back to the pinger's subnet,
// and lets go of the rest.
func TestKernelFragmentedPingsRandomDrop(t *testing.T) {
	testenv.RequireTool(t, "ping", "iputils-ping")
	testenv.RequireTool(t, "nft", "nftables")
	router, d := ipv4Host(t)
	pinger := testenv.NewNetns(t)
	router.Run("ip", "link", "add", "r0", "type", "veth", "peer", "name", "p0", "netns", pinger.Name)
	router.Run("ip", "addr", "add", "10.9.0.1/24", "dev", "r0")
	router.Run("ip", "link", "set", "r0", "up")
	router.Run("sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	pinger.Run("sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1")
	pinger.Run("ip", "addr", "add", "10.9.0.2/24", "dev", "p0")
	pinger.Run("ip", "link", "set", "p0", "up")
	pinger.Run("ip", "route", "add", "default", "via", "10.9.0.1")
	if err := d.Exec("tap0/ctl", mustParseCtl(t, "route add 10.9.0.0/24 192.168.69.100")); err != nil {
		t.Fatal(err)
	}
	out, err := pinger.Command("ping", "-c", "3", "-i", "0.2", "-w", "60", hostIP.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("ping through the router, no loss yet: %v\n%s", err, out)
	}
	router.Run("nft", "add", "table", "inet", "smolfs_drop")
	router.Run("nft", "add", "chain", "inet", "smolfs_drop", "forwarded", "{ type filter hook forward priority 0; }")
	router.Run("nft", "add", "rule", "inet", "smolfs_drop", "forwarded", "ip", "daddr", hostIP.String(), "numgen", "random", "mod", "100", "<", "10", "counter", "drop")
	st0 := d.Snapshot().Stats
	out, _ = pinger.Command("ping", "-c", "40", "-i", "0.05", "-W", "2", "-s", "3000", hostIP.String()).CombinedOutput()
	m := regexp.MustCompile(`40 packets transmitted, (\d+) received`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("ping:\n%s", out)
	}
	received := uint64(mustAtoi(string(m[1])))
	st := d.Snapshot().Stats
	replies := st[netcore.ICMPEchoTx] - st0[netcore.ICMPEchoTx]
	done := st[netcore.IPv4Reassembled] - st0[netcore.IPv4Reassembled]
	t.Logf("40 pings of 3000 bytes: %d answered, %d replies received; %s", replies, received,
		regexp.MustCompile(`packets \d+`).Find([]byte(router.Run("nft", "list", "ruleset"))))
	if received == 0 || received == 40 {
		t.Errorf("%d of 40 received: the drop rule did not bite, or bit everything", received)
	}
	if replies != done || replies < received {
		t.Errorf("%d datagrams reassembled, %d answered, %d replies received by ping", done, replies, received)
	}
	// What was left in reassembly times out, and the way is clear after.
	waitStat(t, d, netcore.IPv4ReasmTimeout, st0[netcore.IPv4ReasmTimeout]+1)
	router.Run("nft", "delete", "table", "inet", "smolfs_drop")
	out, err = pinger.Command("ping", "-c", "3", "-i", "0.2", "-w", "60", "-s", "3000", hostIP.String()).CombinedOutput()
	checkAnswered(t, "ping after", out, err, 3)
}

func mustParseCtl(t *testing.T, text string) []netcore.Command {
	t.Helper()
	cmds, err := netcore.ParseCtl("tap0/ctl", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cmds
}
