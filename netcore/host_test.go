package netcore

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smolfs/smolfs/netcore/capture"
	"github.com/smolfs/smolfs/netcore/ctl"
	"github.com/smolfs/smolfs/netcore/impair"
	"github.com/smolfs/smolfs/netcore/wire"
	"github.com/smolfs/smolfs/netcore/wire/wiretest"
)

var (
	t0         = time.Unix(1764000000, 0)
	hostMAC    = wiretest.MACB
	peerMAC    = wiretest.MACA
	otherMAC   = wire.MAC{0x02, 0, 0, 0, 0, 0x09}
	hostIP     = wiretest.IPB
	peerIP     = wiretest.IPA
	otherIP    = netip.MustParseAddr("192.168.69.9")
	hostPrefix = netip.MustParsePrefix("192.168.69.1/24")
)

// arpFrame builds an ARP frame from sha, padded to 60 bytes.
func arpFrame(op wire.ARPOp, ethDst, sha wire.MAC, spa netip.Addr, tha wire.MAC, tpa netip.Addr) []byte {
	b := wire.EthernetRepr{Dst: ethDst, Src: sha, Type: wire.EtherTypeARP}.Append(nil)
	b = wire.ARPRepr{Op: op, SenderMAC: sha, SenderIP: spa, TargetMAC: tha, TargetIP: tpa}.Append(b)
	return wire.PadFrame(b)
}

// whoHas is an ARP request from the peer for ip.
func whoHas(ip netip.Addr) []byte {
	return arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, peerIP, wire.MAC{}, ip)
}

// echoFrame builds an ICMP echo request.
func echoFrame(src, dst wire.MAC, srcIP, dstIP netip.Addr, id, seq uint16, payload []byte) []byte {
	b := wire.EthernetRepr{Dst: dst, Src: src, Type: wire.EtherTypeIPv4}.Append(nil)
	icmp := wire.ICMPEchoRepr{Type: wire.ICMPEchoRequest, Ident: id, Seq: seq, Data: payload}
	b = wire.IPv4Repr{Src: srcIP, Dst: dstIP, Protocol: wire.ProtoICMP, TTL: 64, ID: 7, PayloadLen: icmp.Len()}.Append(b)
	b = icmp.Append(b)
	return wire.PadFrame(b)
}

// ping is an echo request from the peer to us.
func ping(seq uint16, payload []byte) []byte {
	return echoFrame(peerMAC, hostMAC, peerIP, hostIP, 0x1234, seq, payload)
}

// harness drives a Host with a fake clock and checks, after every call, the
// rules that hold for any input: the fates add up to rx_frames, every frame
// sent is at least 60 bytes and parses as Ethernet, the cache keeps its bound.
type harness struct {
	t      testing.TB
	h      *Host
	now    time.Time
	out    Output
	events []Event // of the last call
}

// newHarness makes tap0 (02:00:00:00:00:01, 192.168.69.1/24) with mods
// applied to its Config, and makes its first Poll, whose announcements are
// dropped and not counted.
func newHarness(t testing.TB, mods ...func(*Config)) *harness {
	t.Helper()
	cfg := Config{Name: "tap0", MAC: hostMAC, Addrs: []netip.Prefix{hostPrefix}}
	for _, m := range mods {
		m(&cfg)
	}
	h, err := NewHost(cfg)
	if err != nil {
		t.Fatal(err)
	}
	th := &harness{t: t, h: h, now: t0}
	th.poll()
	th.h.stats = Stats{} // tests count from after the first announcement
	return th
}

// sent copies the frames of the last call out of the Output, after checking
// them and the host's invariants.
func (th *harness) sent() [][]byte {
	th.t.Helper()
	th.events = slices.Clone(th.out.Events)
	var frames [][]byte
	for _, f := range th.out.Frames {
		if len(f) < wire.EthMinFrame {
			th.t.Errorf("sent a %d-byte frame, want >= %d: % x", len(f), wire.EthMinFrame, f)
		}
		if _, err := wire.ParseEthernet(f); err != nil {
			th.t.Errorf("sent a frame that is not Ethernet: %v", err)
		}
		frames = append(frames, bytes.Clone(f))
	}
	checkInvariants(th.t, th.h)
	return frames
}

// checkInvariants checks what must hold after any call.
func checkInvariants(t testing.TB, h *Host) {
	t.Helper()
	if sum := h.stats.Fates(); sum != h.stats[RxFrames] {
		t.Errorf("fates add up to %d, rx_frames is %d\n%s", sum, h.stats[RxFrames], h.stats.Append(nil))
	}
	if n := h.arp.len(); n > h.cfg.ARPCacheSize {
		t.Errorf("ARP cache holds %d entries, bound %d", n, h.cfg.ARPCacheSize)
	}
	checkCache(t, h.arp)
	checkTimers(t, h)
	checkConvs(t, h)
	if r := h.reasm4; r != nil && (r.held() > MaxReassembly || r.bytes() > MaxReassemblyBytes) {
		t.Errorf("reassembly holds %d datagrams, %d bytes", r.held(), r.bytes())
	}
}

// checkTimers checks the timer heap: it is a heap, every armed timer's
// position is where its owner says, and every neighbour that must be
// looked at again (expiry, retry) has a timer armed no later than its
// deadline, which a static one does not need.
func checkTimers(t testing.TB, h *Host) {
	t.Helper()
	q := &h.timers
	for i, it := range q.items {
		if i > 0 && it.at.Before(q.items[(i-1)/2].at) {
			t.Fatalf("timer %d (%v) is earlier than its parent", i, it.at)
		}
		if p := *q.pos(it.kind, it.id); p != int32(i) {
			t.Fatalf("timer %d of kind %d, id %d: its owner says position %d", i, it.kind, it.id, p)
		}
	}
	armed := 0
	for i := range h.arp.made {
		e := h.arp.at(i)
		if e.timer != noTimer {
			armed++
		}
		switch {
		case e.state == 0 && e.timer != noTimer:
			t.Fatalf("free slot %d has a timer", i)
		case e.state == Static && e.timer != noTimer:
			t.Fatalf("static entry %v has a timer", e.addr)
		case (e.state == Reachable || e.state == Incomplete) && e.timer == noTimer:
			t.Fatalf("%s entry %v has no timer", e.state, e.addr)
		case e.timer != noTimer && q.items[e.timer].at.After(e.deadline):
			t.Fatalf("entry %v: timer at %v, after its deadline %v", e.addr, q.items[e.timer].at, e.deadline)
		}
	}
	// Each impair stage with frames waiting has its timer at their due time.
	for _, st := range []struct {
		name  string
		kind  timerKind
		stage *impair.Stage
	}{{"rx", timerImpairRx, &h.rx}, {"tx", timerImpairTx, &h.tx}} {
		at, ok := q.when(st.kind, 0)
		if ok {
			armed++
		}
		if due := st.stage.Deadline(); ok != !due.IsZero() || ok && !at.Equal(due) {
			t.Fatalf("impair %s: timer at %v (armed %v), frames due at %v", st.name, at, ok, due)
		}
	}
	if h.reasmTimer != noTimer {
		armed++
	}
	if r := h.reasm4; r != nil {
		switch at, ok := q.when(timerReassembly, 0); {
		case r.held() > 0 && !ok:
			t.Fatalf("%d datagrams in reassembly and no timer", r.held())
		case ok && at.After(r.next()):
			t.Fatalf("reassembly timer at %v, after the earliest deadline %v", at, r.next())
		}
	}
	if h.v6.timer != noTimer {
		armed++
	}
	if next := h.next6(); !next.IsZero() {
		if at, ok := q.when(timerIPv6, 0); !ok || at.After(next) {
			t.Fatalf("IPv6's earliest deadline is %v, its timer is at %v (armed %v)", next, at, ok)
		}
	}
	// TCP's timer, when armed, is due no later than the engine's next
	// deadline; when the engine has one, it is armed.
	at, ok := q.when(timerTCP, 0)
	if ok {
		armed++
	}
	if d := h.tcp.t.Deadline(); !d.IsZero() && (!ok || at.After(d)) {
		t.Fatalf("tcp: timer at %v (armed %v), engine's deadline %v", at, ok, d)
	}
	if armed != len(q.items) {
		t.Fatalf("%d timers armed, %d neighbours, owners have one", len(q.items), armed)
	}
}

func (th *harness) recv(frame []byte) [][]byte {
	th.t.Helper()
	th.out.Reset()
	th.h.Receive(th.now, frame, &th.out)
	return th.sent()
}

func (th *harness) poll() [][]byte {
	th.t.Helper()
	th.out.Reset()
	next := th.h.Poll(th.now, &th.out)
	if next != th.h.Deadline() {
		th.t.Errorf("Poll returned %v, Deadline is %v", next, th.h.Deadline())
	}
	if !next.IsZero() && !next.After(th.now) {
		th.t.Errorf("Poll at %v left the deadline at %v: the driver would spin", th.now, next)
	}
	return th.sent()
}

// advance moves the clock and polls.
func (th *harness) advance(d time.Duration) [][]byte {
	th.t.Helper()
	th.now = th.now.Add(d)
	return th.poll()
}

// exec parses text for file (…/ctl or …/arp) and executes it.
func (th *harness) exec(file, text string) ([][]byte, error) {
	th.t.Helper()
	parse := ParseCtl
	if strings.HasSuffix(file, "/arp") {
		parse = ParseARPCommands
	}
	cmds, err := parse(file, []byte(text))
	if err != nil {
		return nil, err
	}
	th.out.Reset()
	err = th.h.Exec(th.now, file, cmds, &th.out)
	return th.sent(), err
}

// mustExec executes text and fails the test on error.
func (th *harness) mustExec(file, text string) [][]byte {
	th.t.Helper()
	frames, err := th.exec(file, text)
	if err != nil {
		th.t.Fatalf("%q: %v", text, err)
	}
	return frames
}

// state is everything a host's files show: its snapshot and its ARP table,
// sorted as the arp file lists it.
type state struct {
	Snapshot
	ARP []ARPEntry
}

func (th *harness) snap() state {
	t := th.h.ARPTable(th.now)
	SortARP(t)
	return state{th.h.Snapshot(), t}
}

func (th *harness) stat(c Counter) uint64 { return th.snap().Stats[c] }

// entry finds ip in the snapshot's ARP table.
func (th *harness) entry(ip netip.Addr) (ARPEntry, bool) {
	for _, e := range th.snap().ARP {
		if e.IP == ip {
			return e, true
		}
	}
	return ARPEntry{}, false
}

// wantStats checks counters by name.
func (th *harness) wantStats(want map[Counter]uint64) {
	th.t.Helper()
	s := th.snap().Stats
	for c, v := range want {
		if s[c] != v {
			th.t.Errorf("%s = %d, want %d", c, s[c], v)
		}
	}
}

// wantEvent checks that the last call reported exactly one event of kind,
// whose message contains substr.
func (th *harness) wantEvent(kind EventKind, substr string) {
	th.t.Helper()
	if len(th.events) != 1 || th.events[0].Kind != kind || !strings.Contains(th.events[0].Msg, substr) {
		th.t.Errorf("events %+v, want one of kind %d containing %q", th.events, kind, substr)
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// parseARPOut parses a frame the host sent as ARP.
func parseARPOut(t testing.TB, f []byte) (wire.EthernetRepr, wire.ARPRepr) {
	t.Helper()
	eth, err := wire.ParseEthernet(f)
	if err != nil || eth.Type != wire.EtherTypeARP {
		t.Fatalf("not an ARP frame (%v): % x", err, f)
	}
	a, err := wire.ParseARP(f[wire.EthHeaderLen:])
	if err != nil {
		t.Fatalf("bad ARP: %v", err)
	}
	return eth, a
}

// parseEchoOut parses a frame the host sent as an ICMP echo message, checking
// both checksums.
func parseEchoOut(t testing.TB, f []byte) (wire.EthernetRepr, wire.IPv4Repr, wire.ICMPEchoRepr) {
	t.Helper()
	eth, err := wire.ParseEthernet(f)
	if err != nil || eth.Type != wire.EtherTypeIPv4 {
		t.Fatalf("not an IPv4 frame (%v): % x", err, f)
	}
	ip, err := wire.ParseIPv4(f[wire.EthHeaderLen:])
	if err != nil {
		t.Fatalf("bad IPv4: %v", err)
	}
	p, _ := wire.NewIPv4Packet(f[wire.EthHeaderLen:])
	icmp, err := wire.ParseICMPEcho(p.Payload())
	if err != nil {
		t.Fatalf("bad ICMP: %v", err)
	}
	return eth, ip, icmp
}

func TestARPRequestForUsIsAnswered(t *testing.T) {
	th := newHarness(t)
	sent := th.recv(whoHas(hostIP))
	want := mustHex(`
		4a4958 7594f4 020000 000001 0806
		0001 0800 06 04 0002
		020000000001 c0a84501
		4a49587594f4 c0a84564
		000000000000000000000000000000000000`)
	if len(sent) != 1 || !bytes.Equal(sent[0], want) {
		t.Fatalf("sent %x\nwant %x", sent, want)
	}
	th.wantStats(map[Counter]uint64{RxFrames: 1, RxBytes: 60, ARPRxRequest: 1, ARPTxReply: 1, TxFrames: 1, TxBytes: 60})
	e, ok := th.entry(peerIP)
	if !ok || e.MAC != peerMAC || e.State != Reachable || e.TTL != DefaultARPTimeout {
		t.Errorf("entry %+v %v, want the requester learned for 60s", e, ok)
	}
	// A request for an address that is not ours is not answered.
	if sent := th.recv(whoHas(otherIP)); len(sent) != 0 {
		t.Errorf("answered a request for %s: %x", otherIP, sent)
	}
}

func TestARPProbeIsAnswered(t *testing.T) {
	// RFC 5227: a probe has sender IP 0.0.0.0; it is answered, nothing is learned.
	th := newHarness(t)
	sent := th.recv(arpFrame(wire.ARPRequest, wire.BroadcastMAC, peerMAC, netip.IPv4Unspecified(), wire.MAC{}, hostIP))
	if len(sent) != 1 {
		t.Fatalf("sent %d frames, want a reply", len(sent))
	}
	eth, a := parseARPOut(t, sent[0])
	if eth.Dst != peerMAC || a.Op != wire.ARPReply || a.TargetIP != netip.IPv4Unspecified() || a.SenderIP != hostIP {
		t.Errorf("reply %+v %+v", eth, a)
	}
	if n := len(th.snap().ARP); n != 0 {
		t.Errorf("learned %d entries from a probe", n)
	}
}

func TestAddAndGARPSendGratuitousARP(t *testing.T) {
	th := newHarness(t)
	sent := th.mustExec("tap0/ctl", "add 10.0.0.1/8")
	want := mustHex(`
		ffffffffffff 020000000001 0806
		0001 0800 06 04 0001
		020000000001 0a000001
		000000000000 0a000001
		000000000000000000000000000000000000`)
	if len(sent) != 1 || !bytes.Equal(sent[0], want) {
		t.Fatalf("add sent %x\nwant %x", sent, want)
	}
	sent = th.mustExec("tap0/ctl", "garp")
	if len(sent) != 2 {
		t.Fatalf("garp sent %d frames, want one per address", len(sent))
	}
	for i, ip := range []netip.Addr{hostIP, netip.MustParseAddr("10.0.0.1")} {
		eth, a := parseARPOut(t, sent[i])
		if eth.Dst != wire.BroadcastMAC || eth.Src != hostMAC || a.Op != wire.ARPRequest ||
			a.SenderIP != ip || a.TargetIP != ip || a.SenderMAC != hostMAC || !a.TargetMAC.IsZero() {
			t.Errorf("garp %d: %+v %+v", i, eth, a)
		}
	}
	th.wantStats(map[Counter]uint64{ARPTxRequest: 3, TxFrames: 3})
	// One announcement per address per write, however it is spelt.
	if sent := th.mustExec("tap0/ctl", "add 10.1.0.1/16\ngarp\ngarp"); len(sent) != 3 {
		t.Errorf("add+garp+garp sent %d frames, want 3", len(sent))
	}
	if sent := th.mustExec("tap0/ctl", "add 10.2.0.1/16\nremove 10.2.0.1/16"); len(sent) != 0 {
		t.Errorf("add+remove sent %d frames, want none", len(sent))
	}
}

func TestNewHostAnnouncesAtFirstPoll(t *testing.T) {
	h, err := NewHost(Config{Name: "tap0", MAC: hostMAC, Addrs: []netip.Prefix{hostPrefix, netip.MustParsePrefix("10.0.0.1/8")}})
	if err != nil {
		t.Fatal(err)
	}
	var out Output
	h.Poll(t0, &out)
	if len(out.Frames) != 2 {
		t.Fatalf("first Poll sent %d frames, want 2 gratuitous ARP", len(out.Frames))
	}
	out.Reset()
	h.Poll(t0, &out)
	if len(out.Frames) != 0 {
		t.Errorf("second Poll sent %d frames", len(out.Frames))
	}
}

func TestUpDown(t *testing.T) {
	th := newHarness(t)
	sub := th.h.Capture().Subscribe(0)
	defer sub.Close()
	th.mustExec("tap0/ctl", "down")
	th.wantEvent(EventDown, "down")
	if sent := th.recv(whoHas(hostIP)); len(sent) != 0 {
		t.Errorf("down host answered ARP: %x", sent)
	}
	if sent := th.recv(ping(1, []byte("hi"))); len(sent) != 0 {
		t.Errorf("down host answered ping: %x", sent)
	}
	th.wantStats(map[Counter]uint64{RxFrames: 2, RxDown: 2, ARPRxRequest: 0, ICMPEchoRx: 0})
	if n := sub.Take(nil, func(capture.CapturedFrame) bool { return true }); n != 2 {
		t.Errorf("captured %d frames while down, want 2", n)
	}
	for _, cmd := range []string{"garp"} {
		_, err := th.exec("tap0/ctl", cmd)
		if ctl.Errno(err) != syscall.ENETDOWN {
			t.Errorf("%s while down: %v, want ENETDOWN", cmd, err)
		}
	}
	if _, err := th.exec("tap0/arp", "resolve "+peerIP.String()); ctl.Errno(err) != syscall.ENETDOWN {
		t.Errorf("resolve while down: %v, want ENETDOWN", err)
	}
	// Adding an address while down announces nothing; coming up announces all.
	if sent := th.mustExec("tap0/ctl", "add 10.0.0.1/8"); len(sent) != 0 {
		t.Errorf("add while down sent %d frames", len(sent))
	}
	if sent := th.mustExec("tap0/ctl", "up"); len(sent) != 2 {
		t.Errorf("up sent %d frames, want 2 gratuitous ARP", len(sent))
	}
	th.wantEvent(EventUp, "up")
	if sent := th.mustExec("tap0/ctl", "up"); len(sent) != 0 || len(th.events) != 0 {
		t.Errorf("up when up sent %d frames, events %v", len(sent), th.events)
	}
	if sent := th.recv(whoHas(hostIP)); len(sent) != 1 {
		t.Errorf("up host sent %d frames for a request, want 1", len(sent))
	}
}

func TestDownFailsResolutions(t *testing.T) {
	th := newHarness(t)
	th.recv(ping(1, nil)) // the peer is unknown: its reply waits for ARP
	th.mustExec("tap0/ctl", "down")
	th.wantStats(map[Counter]uint64{ARPFailed: 1, ARPPendingDropped: 1})
	if _, ok := th.entry(peerIP); ok {
		t.Error("incomplete entry survived down")
	}
	if sent := th.advance(5 * time.Second); len(sent) != 0 {
		t.Errorf("down host sent %x", sent)
	}
}

func TestPromiscuous(t *testing.T) {
	th := newHarness(t)
	th.recv(whoHas(hostIP))
	toOther := echoFrame(peerMAC, otherMAC, peerIP, hostIP, 1, 1, nil)
	if sent := th.recv(toOther); len(sent) != 0 {
		t.Errorf("answered a frame for %s: %x", otherMAC, sent)
	}
	th.wantStats(map[Counter]uint64{RxNotForUs: 1})
	th.mustExec("tap0/ctl", "promiscuous on")
	if sent := th.recv(toOther); len(sent) != 1 {
		t.Errorf("promiscuous host sent %d frames, want the echo reply", len(sent))
	}
	th.wantStats(map[Counter]uint64{RxNotForUs: 1, ICMPEchoRx: 1, ICMPEchoTx: 1})
	th.mustExec("tap0/ctl", "promiscuous off")
	th.recv(toOther)
	th.wantStats(map[Counter]uint64{RxNotForUs: 2})
}

func TestMTU(t *testing.T) {
	th := newHarness(t)
	th.recv(whoHas(hostIP))
	th.mustExec("tap0/ctl", "mtu 576")
	fits := ping(1, make([]byte, 576-28))
	if sent := th.recv(fits); len(sent) != 1 {
		t.Errorf("a 576-byte packet got %d replies, want 1", len(sent))
	}
	big := ping(2, make([]byte, 577-28))
	if sent := th.recv(big); len(sent) != 0 {
		t.Errorf("a 577-byte packet was answered with mtu 576")
	}
	th.wantStats(map[Counter]uint64{RxTooBig: 1, ICMPEchoRx: 1})
	// Also for frames the host does not otherwise read.
	frame := append(wire.EthernetRepr{Dst: hostMAC, Src: peerMAC, Type: wire.EtherTypeIPv6}.Append(nil), make([]byte, 600)...)
	th.recv(frame)
	th.wantStats(map[Counter]uint64{RxTooBig: 2})
}

func TestEchoReply(t *testing.T) {
	for _, n := range []int{0, 1, 7, 18, 56, 1472} {
		th := newHarness(t)
		th.recv(whoHas(hostIP))
		payload := make([]byte, n)
		for i := range payload {
			payload[i] = byte(i*7 + 3)
		}
		sent := th.recv(ping(42, payload))
		if len(sent) != 1 {
			t.Fatalf("payload %d: sent %d frames, want 1", n, len(sent))
		}
		eth, ip, icmp := parseEchoOut(t, sent[0])
		if eth.Dst != peerMAC || eth.Src != hostMAC {
			t.Errorf("payload %d: ethernet %+v", n, eth)
		}
		if ip.Src != hostIP || ip.Dst != peerIP || ip.TTL != 64 || ip.Protocol != wire.ProtoICMP || ip.PayloadLen != 8+n {
			t.Errorf("payload %d: ipv4 %+v", n, ip)
		}
		if icmp.Type != wire.ICMPEchoReply || icmp.Code != 0 || icmp.Ident != 0x1234 || icmp.Seq != 42 || !bytes.Equal(icmp.Data, payload) {
			t.Errorf("payload %d: icmp %+v", n, icmp)
		}
		if want := max(wire.EthMinFrame, wire.EthHeaderLen+20+8+n); len(sent[0]) != want {
			t.Errorf("payload %d: frame of %d bytes, want %d", n, len(sent[0]), want)
		}
		if pad := sent[0][wire.EthHeaderLen+20+8+n:]; !bytes.Equal(pad, make([]byte, len(pad))) {
			t.Errorf("payload %d: padding not zero: % x", n, pad)
		}
		th.wantStats(map[Counter]uint64{ICMPEchoRx: 1, ICMPEchoTx: 1})
	}
}

func TestEchoReplyChecksumCorner(t *testing.T) {
	// An all-zero reply (identifier, sequence, data) sums to zero, so its
	// checksum must be 0xffff; an incremental update yields 0x0000.
	th := newHarness(t)
	th.recv(whoHas(hostIP))
	sent := th.recv(echoFrame(peerMAC, hostMAC, peerIP, hostIP, 0, 0, make([]byte, 8)))
	if len(sent) != 1 {
		t.Fatalf("sent %d frames", len(sent))
	}
	parseEchoOut(t, sent[0])
	if got := sent[0][wire.EthHeaderLen+20+2:][:2]; !bytes.Equal(got, []byte{0xff, 0xff}) {
		t.Errorf("checksum % x, want ff ff", got)
	}
}

func TestEchoRequestWithOptions(t *testing.T) {
	th := newHarness(t)
	th.recv(whoHas(hostIP))
	icmp := wire.ICMPEchoRepr{Type: wire.ICMPEchoRequest, Ident: 9, Seq: 3, Data: []byte("options")}.Append(nil)
	ip := wire.IPv4Repr{Src: peerIP, Dst: hostIP, Protocol: wire.ProtoICMP, TTL: 64, PayloadLen: 4 + len(icmp)}.Append(nil)
	ip[0] = 0x46 // IHL 6: one word of options (NOPs)
	ip = append(ip, 1, 1, 1, 1)
	ip[10], ip[11] = 0, 0
	c := wire.Checksum(ip)
	ip[10], ip[11] = byte(c>>8), byte(c)
	frame := append(wire.EthernetRepr{Dst: hostMAC, Src: peerMAC, Type: wire.EtherTypeIPv4}.Append(nil), ip...)
	frame = append(frame, icmp...)
	sent := th.recv(frame)
	if len(sent) != 1 {
		t.Fatalf("sent %d frames", len(sent))
	}
	_, rip, ricmp := parseEchoOut(t, sent[0])
	if rip.PayloadLen != len(icmp) || string(ricmp.Data) != "options" || ricmp.Ident != 9 || ricmp.Seq != 3 {
		t.Errorf("reply %+v %+v", rip, ricmp)
	}
}

func TestEchoWaitsForARP(t *testing.T) {
	th := newHarness(t)
	sent := th.recv(ping(1, []byte("first")))
	if len(sent) != 1 {
		t.Fatalf("sent %d frames, want one ARP request", len(sent))
	}
	eth, a := parseARPOut(t, sent[0])
	if eth.Dst != wire.BroadcastMAC || a.Op != wire.ARPRequest || a.SenderIP != hostIP || a.TargetIP != peerIP || !a.TargetMAC.IsZero() {
		t.Errorf("request %+v %+v", eth, a)
	}
	if e, ok := th.entry(peerIP); !ok || e.State != Incomplete || e.TTL != time.Second {
		t.Errorf("entry %+v %v, want incomplete, retry in 1s", e, ok)
	}
	th.now = th.now.Add(100 * time.Millisecond)
	if sent := th.recv(ping(2, []byte("second"))); len(sent) != 0 {
		t.Errorf("second ping sent %x, want it to wait", sent)
	}
	sent = th.recv(arpFrame(wire.ARPReply, hostMAC, peerMAC, peerIP, hostMAC, hostIP))
	if len(sent) != 2 {
		t.Fatalf("the reply released %d frames, want 2", len(sent))
	}
	for i, want := range []string{"first", "second"} {
		eth, _, icmp := parseEchoOut(t, sent[i])
		if eth.Dst != peerMAC || string(icmp.Data) != want || icmp.Seq != uint16(i+1) {
			t.Errorf("frame %d: %+v %+v", i, eth, icmp)
		}
	}
	th.wantStats(map[Counter]uint64{ICMPEchoRx: 2, ICMPEchoTx: 2, ARPRxReply: 1, ARPTxRequest: 1})
}

func TestIPv4Drops(t *testing.T) {
	th := newHarness(t)
	th.recv(whoHas(hostIP))
	good := ping(1, []byte("x"))
	mod := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b[wire.EthHeaderLen:])
		return b
	}
	fixsum := func(ip []byte) {
		ip[10], ip[11] = 0, 0
		c := wire.Checksum(ip[:20])
		ip[10], ip[11] = byte(c>>8), byte(c)
	}
	cases := []struct {
		name    string
		frame   []byte
		fate    Counter
		replies int // ICMP errors
	}{
		{"bad header checksum", mod(func(ip []byte) { ip[10] ^= 1 }), IPv4RxBadChecksum, 0},
		{"more fragments, not a multiple of 8", mod(func(ip []byte) { ip[6] |= 0x20; fixsum(ip) }), IPv4RxFragBad, 0},
		{"last fragment", mod(func(ip []byte) { ip[7] = 1; fixsum(ip) }), IPv4RxFragment, 0},
		{"unknown protocol", mod(func(ip []byte) { ip[9] = 253; fixsum(ip) }), IPv4RxOther, 1},
		{"gre", mod(func(ip []byte) { ip[9] = 47; fixsum(ip) }), IPv4RxOther, 1},
		{"udp with the length of an echo's identifier", mod(func(ip []byte) { ip[9] = byte(wire.ProtoUDP); fixsum(ip) }), UDPRxBadLength, 0},
		{"not for us", mod(func(ip []byte) { ip[19] = 99; fixsum(ip) }), RxNotForUs, 0},
		{"broadcast", mod(func(ip []byte) { ip[19] = 255; fixsum(ip) }), RxNotForUs, 0},
		{"bad icmp checksum", mod(func(ip []byte) { ip[20+2] ^= 1 }), ICMPRxOther, 0},
		{"echo reply", mod(func(ip []byte) { ip[20] = 0; ip[22] += 8 }), ICMPRxOther, 0},
		{"icmp code", mod(func(ip []byte) { ip[21] = 1; ip[22]-- }), ICMPRxOther, 0},
		{"short icmp", mod(func(ip []byte) { ip[3] = 20 + 4; fixsum(ip) }), ICMPRxOther, 0},
		{"version 6", mod(func(ip []byte) { ip[0] = 0x65 }), RxMalformed, 0},
		{"ihl 4", mod(func(ip []byte) { ip[0] = 0x44 }), RxMalformed, 0},
		{"total length beyond frame", mod(func(ip []byte) { ip[2] = 0x05; fixsum(ip) }), RxMalformed, 0},
		{"truncated header", good[:wire.EthHeaderLen+10], RxMalformed, 0},
	}
	for _, tc := range cases {
		before := th.h.stats
		if sent := th.recv(tc.frame); len(sent) != tc.replies {
			t.Errorf("%s: sent %d frames, want %d", tc.name, len(sent), tc.replies)
		}
		if th.h.stats[tc.fate] != before[tc.fate]+1 {
			t.Errorf("%s: %s not counted", tc.name, tc.fate)
		}
	}
	if sent := th.recv(good); len(sent) != 1 {
		t.Errorf("the unmodified ping got %d replies", len(sent))
	}
}

func TestEchoFromNowhere(t *testing.T) {
	th := newHarness(t)
	// Off every connected subnet: no route back.
	if sent := th.recv(echoFrame(peerMAC, hostMAC, netip.MustParseAddr("10.9.9.9"), hostIP, 1, 1, nil)); len(sent) != 0 {
		t.Errorf("answered an off-subnet source: %x", sent)
	}
	th.wantStats(map[Counter]uint64{ICMPEchoRx: 1, TxNoRoute: 1})
	// Sources that are not hosts are never answered or resolved.
	for _, src := range []string{"0.0.0.0", "255.255.255.255", "224.0.0.1", "192.168.69.255", "192.168.69.0", "192.168.69.1"} {
		if sent := th.recv(echoFrame(peerMAC, hostMAC, netip.MustParseAddr(src), hostIP, 1, 1, nil)); len(sent) != 0 {
			t.Errorf("answered source %s: %x", src, sent)
		}
	}
	if n := len(th.snap().ARP); n != 0 {
		t.Errorf("cache holds %d entries", n)
	}
	th.wantStats(map[Counter]uint64{ICMPEchoRx: 7, TxNoRoute: 6, ARPTxRequest: 0})
}

func TestFramingDrops(t *testing.T) {
	th := newHarness(t)
	ipv6 := append(wire.EthernetRepr{Dst: wire.MAC{0x33, 0x33, 0, 0, 0, 2}, Src: peerMAC, Type: wire.EtherTypeIPv6}.Append(nil), make([]byte, 46)...)
	dot3 := append(wire.EthernetRepr{Dst: wire.BroadcastMAC, Src: peerMAC, Type: 46}.Append(nil), make([]byte, 46)...)
	arpOther := whoHas(hostIP)
	arpOther[wire.EthHeaderLen+1] = 6 // IEEE 802 hardware type
	arpOp := whoHas(hostIP)
	arpOp[wire.EthHeaderLen+7] = 3 // RARP request
	cases := []struct {
		name  string
		frame []byte
		fate  Counter
	}{
		{"empty", nil, RxMalformed},
		{"13 bytes", make([]byte, 13), RxMalformed},
		{"802.3", dot3, Rx8023},
		{"ipv6", ipv6, RxOtherEthertype},
		{"arp truncated", whoHas(hostIP)[:wire.EthHeaderLen+20], RxMalformed},
		{"arp header only", whoHas(hostIP)[:wire.EthHeaderLen+7], RxMalformed},
		{"arp hardware type", arpOther, ARPRxOther},
		{"arp op", arpOp, ARPRxOther},
		{"arp from broadcast sender", arpFrame(wire.ARPRequest, wire.BroadcastMAC, wire.BroadcastMAC, peerIP, wire.MAC{}, hostIP), ARPRxRequest},
		{"arp from zero sender", arpFrame(wire.ARPRequest, wire.BroadcastMAC, wire.MAC{}, peerIP, wire.MAC{}, hostIP), ARPRxRequest},
	}
	for _, tc := range cases {
		before := th.h.stats
		if sent := th.recv(tc.frame); len(sent) != 0 {
			t.Errorf("%s: sent %x", tc.name, sent)
		}
		if th.h.stats[tc.fate] != before[tc.fate]+1 {
			t.Errorf("%s: %s not counted", tc.name, tc.fate)
		}
	}
	if n := len(th.snap().ARP); n != 0 {
		t.Errorf("cache holds %d entries", n)
	}
}

func TestNewHostValidates(t *testing.T) {
	cases := []struct {
		cfg   Config
		errno syscall.Errno
		msg   string
	}{
		{Config{Name: "tap0"}, syscall.EINVAL, "tap0: bad hardware address: 00:00:00:00:00:00 is not a unicast address"},
		{Config{Name: "tap0", MAC: wire.BroadcastMAC}, syscall.EINVAL, "tap0: bad hardware address: ff:ff:ff:ff:ff:ff is not a unicast address"},
		{Config{Name: "tap0", MAC: hostMAC, MTU: 9000}, syscall.EINVAL, "tap0: bad number: mtu must be 68..1500"},
		{Config{Name: "tap0", MAC: hostMAC, ARPTimeout: 1500 * time.Millisecond}, syscall.EINVAL, "tap0: bad number: arptimeout must be 1..86400 seconds"},
		{Config{Name: "tap0", MAC: hostMAC, Addrs: []netip.Prefix{netip.MustParsePrefix("192.168.69.0/24")}}, syscall.EINVAL,
			"tap0: bad IPv4 address/prefix: 192.168.69.0 is the network or broadcast address of 192.168.69.0/24"},
		{Config{Name: "tap0", MAC: hostMAC, Addrs: []netip.Prefix{netip.MustParsePrefix("::1/128")}}, syscall.EINVAL, "tap0: bad IPv4 address"},
		{Config{Name: "tap0", MAC: hostMAC, Addrs: []netip.Prefix{hostPrefix, netip.MustParsePrefix("192.168.69.1/16")}}, syscall.EEXIST,
			"tap0: already exists: address 192.168.69.1 given twice"},
	}
	for _, tc := range cases {
		_, err := NewHost(tc.cfg)
		var ce *ctl.CommandError
		if !errors.As(err, &ce) || ctl.Errno(err) != tc.errno || err.Error() != tc.msg {
			t.Errorf("NewHost(%+v) = %v (errno %d), want %q (errno %d)", tc.cfg, err, ctl.Errno(err), tc.msg, tc.errno)
		}
	}
	h, err := NewHost(Config{Name: "tap0", MAC: hostMAC})
	if err != nil {
		t.Fatal(err)
	}
	cfg := h.Snapshot().Config
	if cfg.MTU != 1500 || cfg.ARPTimeout != 60*time.Second || cfg.ARPCacheSize != 1024 || cfg.ARPRetries != 3 || cfg.ARPPending != 4 {
		t.Errorf("defaults %+v", cfg)
	}
}

func TestSnapshotFiles(t *testing.T) {
	th := newHarness(t, func(c *Config) { c.Addrs = append(c.Addrs, netip.MustParsePrefix("10.0.0.1/8")) })
	th.recv(whoHas(hostIP))
	th.mustExec("tap0/arp", "add 192.168.69.9 02-00-00-00-00-09\nresolve 192.168.69.7")
	th.now = th.now.Add(2500 * time.Millisecond)
	s := th.snap()
	if got, want := string(s.AppendAddr(nil)), "02:00:00:00:00:01\n192.168.69.1/24\n10.0.0.1/8\n"; got != want {
		t.Errorf("addr:\n%s\nwant:\n%s", got, want)
	}
	// The incomplete entry's retry was due 1.5 s ago (no Poll yet): 0.
	want := "192.168.69.7 00:00:00:00:00:00 incomplete 0\n" +
		"192.168.69.9 02:00:00:00:00:09 static -\n" +
		"192.168.69.100 4a:49:58:75:94:f4 reachable 58\n"
	if got := string(AppendARP(nil, s.ARP)); got != want {
		t.Errorf("arp:\n%s\nwant:\n%s", got, want)
	}
	stats := string(s.AppendStats(nil))
	for _, name := range strings.Fields("rx_frames rx_bytes tx_frames tx_bytes rx_malformed rx_not_for_us arp_rx_request arp_rx_reply arp_tx_request arp_tx_reply icmp_echo_rx icmp_echo_tx capture_dropped") {
		if !strings.Contains(stats, "\n"+name+" ") && !strings.HasPrefix(stats, name+" ") {
			t.Errorf("stats lacks %s:\n%s", name, stats)
		}
	}
	if !strings.Contains(stats, "\narp_rx_request 1\n") || !strings.Contains(stats, "\narp_tx_request 1\n") {
		t.Errorf("stats:\n%s", stats)
	}
	// A snapshot is a copy.
	s.Config.Addrs[0] = netip.MustParsePrefix("1.1.1.1/8")
	if th.h.cfg.Addrs[0] != hostPrefix {
		t.Error("snapshot aliases the host's addresses")
	}
}

func TestDriverCount(t *testing.T) {
	th := newHarness(t)
	th.h.Count(TxDropped, 3)
	th.wantStats(map[Counter]uint64{TxDropped: 3})
}

// TestEchoReplyChecksum compares the incremental update with a full sum over
// messages of every kind, including those whose sums sit at +0 and -0.
func TestEchoReplyChecksum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	msgs := [][]byte{
		make([]byte, 8), make([]byte, 64),
		{8, 0, 0, 0, 0xff, 0xff, 0, 0}, // the reply's words sum to -0: checksum 0x0000
		{8, 0, 0, 0, 0xf7, 0xff, 0x08, 0x00},
	}
	for range 10000 {
		m := make([]byte, wire.ICMPHeaderLen+rng.IntN(80))
		for i := wire.ICMPHeaderLen; i < len(m); i++ {
			if rng.IntN(4) > 0 {
				m[i] = byte(rng.Uint32())
			}
		}
		binary.BigEndian.PutUint32(m[4:], rng.Uint32()&uint32(rng.IntN(2)*0xffffffff))
		msgs = append(msgs, m)
	}
	for _, m := range msgs {
		m[0], m[1] = byte(wire.ICMPEchoRequest), 0
		m[2], m[3] = 0, 0
		binary.BigEndian.PutUint16(m[2:], wire.Checksum(m))
		reply := bytes.Clone(m)
		reply[0] = byte(wire.ICMPEchoReply)
		got := echoReplyChecksum(binary.BigEndian.Uint16(m[2:]), reply)
		binary.BigEndian.PutUint16(reply[2:], got)
		if wire.Checksum(reply) != 0 {
			t.Fatalf("reply % x: checksum %04x does not verify", reply, got)
		}
		reply[2], reply[3] = 0, 0
		if want := wire.Checksum(reply); got != want {
			t.Fatalf("reply % x: checksum %04x, a full sum gives %04x", reply, got, want)
		}
	}
}

func TestCounterNames(t *testing.T) {
	seen := map[string]bool{}
	for c := range numCounters {
		name := c.String()
		if name == "" || seen[name] || strings.ContainsAny(name, " \n") {
			t.Errorf("counter %d is named %q", c, name)
		}
		seen[name] = true
	}
	if s := Counter(-1).String(); s != "counter(-1)" {
		t.Errorf("Counter(-1) = %q", s)
	}
	if s := numCounters.String(); !strings.HasPrefix(s, "counter(") {
		t.Errorf("numCounters = %q", s)
	}
	// Every fate is a distinct receive-side counter.
	fates := map[Counter]bool{}
	for _, c := range RxFates {
		if fates[c] || c == RxFrames || c == RxBytes {
			t.Errorf("fate %s listed twice or is not a fate", c)
		}
		fates[c] = true
	}
}

// TestCaptureNeverBlocks: a subscriber that never reads costs the host
// nothing but counted drops, also through Host.Receive.
func TestCaptureNeverBlocks(t *testing.T) {
	th := newHarness(t)
	idle := th.h.Capture().Subscribe(10 * (capture.FrameOverhead + 60))
	defer idle.Close()
	const n = 100000
	req := whoHas(hostIP)
	for range n {
		th.out.Reset()
		th.h.Receive(th.now, req, &th.out) // each: one frame in, one out
	}
	if got := idle.Dropped(); got != 2*n-10 {
		t.Errorf("dropped %d, want %d", got, 2*n-10)
	}
	th.wantStats(map[Counter]uint64{CaptureDropped: 2*n - 10, RxFrames: n, TxFrames: n})
	var got []capture.CapturedFrame
	idle.Take(nil, func(f capture.CapturedFrame) bool {
		got = append(got, f)
		return true
	})
	if len(got) != 11 || got[0].Dir != capture.In || got[1].Dir != capture.Out || got[10].DroppedBefore != 2*n-10 {
		t.Errorf("took %d: first %+v, last %+v", len(got), got[0], got[len(got)-1])
	}
}
