package netcore

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
	"github.com/smolfs/smolfs/netcore/wire/wiretest"
)

var (
	hostLL  = wire.LinkLocal(hostMAC) // fe80::ff:fe00:1
	peerLL  = wiretest.IP6A           // fe80::4849:58ff:fe75:94f4, the kernel's
	host6   = netip.MustParsePrefix("2001:db8::1/64")
	peer6   = netip.MustParseAddr("2001:db8::2")
	allMAC  = wire.MulticastMAC(wire.IPv6AllNodes)
	hostSN  = wire.SolicitedNodeMulticast(hostLL)
	hostSNM = wire.MulticastMAC(hostSN)
)

// frame6 is an Ethernet frame with an IPv6 packet: the fixed header, then
// payload (extension headers and the upper layer), padded to 60 bytes.
func frame6(ethDst, ethSrc wire.MAC, src, dst netip.Addr, nh wire.IPProtocol, hop uint8, payload []byte) []byte {
	b := wire.EthernetRepr{Dst: ethDst, Src: ethSrc, Type: wire.EtherTypeIPv6}.Append(nil)
	b = wire.IPv6Repr{Src: src, Dst: dst, NextHeader: nh, HopLimit: hop, PayloadLen: len(payload)}.Append(b)
	return wire.PadFrame(append(b, payload...))
}

// icmp6 is an ICMPv6 message with its checksum for src and dst.
func icmp6(src, dst netip.Addr, typ wire.ICMPv6Type, code uint8, body []byte) []byte {
	m := append([]byte{byte(typ), code, 0, 0}, body...)
	wire.SetICMPv6Checksum(m, src, dst)
	return m
}

// echo6 is an echo request from the peer (peerMAC, src) to dst.
func echo6(src, dst netip.Addr, seq uint16, data []byte) []byte {
	ethDst := hostMAC
	if dst.IsMulticast() {
		ethDst = wire.MulticastMAC(dst)
	}
	m := wire.ICMPv6EchoRepr{Type: wire.ICMPv6EchoRequest, Ident: 0x77, Seq: seq, Data: data}.Append(nil, src, dst)
	return frame6(ethDst, peerMAC, src, dst, wire.ProtoICMPv6, 64, m)
}

// nsFrom is a neighbour solicitation from the peer at src for target, with
// its hardware address unless src is unspecified.
func nsFrom(src, target netip.Addr) []byte {
	dst := wire.SolicitedNodeMulticast(target)
	ns := wire.NDPNeighborSolicit{Target: target}
	if !src.IsUnspecified() {
		ns.SourceLLA = peerMAC
	} else {
		ns.Nonce = []byte{9, 9, 9, 9, 9, 9}
	}
	return frame6(wire.MulticastMAC(dst), peerMAC, src, dst, wire.ProtoICMPv6, 255, ns.Append(nil, src, dst))
}

// naFrom is a neighbour advertisement from mac for target.
func naFrom(mac wire.MAC, src, dst, target netip.Addr, solicited bool) []byte {
	ethDst := hostMAC
	if dst.IsMulticast() {
		ethDst = wire.MulticastMAC(dst)
	}
	na := wire.NDPNeighborAdvert{Solicited: solicited, Override: true, Target: target, TargetLLA: mac}
	return frame6(ethDst, mac, src, dst, wire.ProtoICMPv6, 255, na.Append(nil, src, dst))
}

// out6 is a frame the host sent, parsed as IPv6 with its extension
// headers walked; frag is the fragment header's offset in ip, or 0.
type out6 struct {
	eth   wire.EthernetRepr
	ip    wire.IPv6Repr
	raw   wire.IPv6Packet
	nh    wire.IPProtocol
	upper []byte
	frag  int
}

func parse6(t testing.TB, f []byte) out6 {
	t.Helper()
	eth, err := wire.ParseEthernet(f)
	if err != nil || eth.Type != wire.EtherTypeIPv6 {
		t.Fatalf("not an IPv6 frame (%v): % x", err, f)
	}
	p, err := wire.NewIPv6Packet(f[wire.EthHeaderLen:])
	if err != nil {
		t.Fatalf("bad IPv6: %v: % x", err, f)
	}
	ip, _ := wire.ParseIPv6(p)
	o := out6{eth: eth, ip: ip, raw: p}
	nh, off := p.NextHeader(), wire.IPv6HeaderLen
	for nh == wire.ProtoHopByHop || nh == wire.ProtoFragment {
		n, err := wire.IPv6ExtHeaderLen(nh, p[off:])
		if err != nil {
			t.Fatalf("bad extension header: %v", err)
		}
		if nh == wire.ProtoFragment {
			o.frag = off
		}
		nh, off = wire.IPProtocol(p[off]), off+n
	}
	o.nh, o.upper = nh, p[off:wire.IPv6HeaderLen+int(p.PayloadLen())]
	if nh == wire.ProtoICMPv6 && o.frag == 0 && !p.UpperChecksumOK(off, nh) {
		t.Errorf("ICMPv6 checksum wrong: % x", f)
	}
	if want := wire.MulticastMAC(ip.Dst); ip.Dst.IsMulticast() && eth.Dst != want {
		t.Errorf("frame to %v sent to %v", ip.Dst, eth.Dst)
	}
	return o
}

// typ is the ICMPv6 type of a frame the host sent, or 0.
func (o out6) typ() wire.ICMPv6Type {
	if o.nh != wire.ProtoICMPv6 || len(o.upper) == 0 {
		return 0
	}
	return wire.ICMPv6Type(o.upper[0])
}

// only6 parses the frames and returns those of ICMPv6 type typ.
func only6(t testing.TB, frames [][]byte, typ wire.ICMPv6Type) []out6 {
	t.Helper()
	var r []out6
	for _, f := range frames {
		if o := parse6(t, f); o.typ() == typ {
			r = append(r, o)
		}
	}
	return r
}

// newHarness6 makes a host with IPv6 on whose link-local address is
// through DAD, with mods applied to its Config.
func newHarness6(t testing.TB, mods ...func(*Config)) *harness {
	t.Helper()
	th := newHarness(t, append([]func(*Config){func(c *Config) { c.IPv6 = true }}, mods...)...)
	th.settle()
	th.h.stats = Stats{}
	if a := th.addr6(hostLL); a != "fe80::ff:fe00:1/64" {
		th.t.Fatalf("link-local address after DAD: %q", a)
	}
	return th
}

// settle runs the clock for 3 seconds in 50ms steps (DAD's delay and
// RetransTimer) and returns what was sent.
func (th *harness) settle() [][]byte {
	th.t.Helper()
	var all [][]byte
	for range 60 {
		all = append(all, th.advance(50*time.Millisecond)...)
	}
	return all
}

// addr6 is the addr file's line for a, or "".
func (th *harness) addr6(a netip.Addr) string {
	s := th.snap().Snapshot
	for _, l := range strings.Split(string(s.AppendAddr(nil)), "\n") {
		if strings.HasPrefix(l, a.String()+"/") {
			return l
		}
	}
	return ""
}

func TestIPv6OffByDefault(t *testing.T) {
	th := newHarness(t)
	if sent := th.recv(echo6(peerLL, hostLL, 1, nil)); len(sent) != 0 {
		t.Errorf("answered IPv6 while it is off: %x", sent)
	}
	th.wantStats(map[Counter]uint64{RxOtherEthertype: 1})
	if sent := th.settle(); len(sent) != 0 {
		t.Errorf("sent %d frames with IPv6 off", len(sent))
	}
}

// Turning IPv6 on joins the solicited-node group (MLDv2, from ::), probes
// for the link-local address (DAD, from ::, with a nonce), and a
// RetransTimer later makes it usable and reports again from it.
func TestIPv6StartsWithDAD(t *testing.T) {
	th := newHarness(t)
	sent := th.mustExec("tap0/ctl", "ipv6 on")
	if a := th.addr6(hostLL); a != "fe80::ff:fe00:1/64 tentative" {
		t.Errorf("addr line %q, want it tentative", a)
	}
	sent = append(sent, th.settle()...)
	if a := th.addr6(hostLL); a != "fe80::ff:fe00:1/64" {
		t.Errorf("addr line %q after DAD", a)
	}
	var kinds []string
	for _, f := range sent {
		o := parse6(t, f)
		switch o.typ() {
		case wire.ICMPv6MLDv2Report:
			if o.ip.HopLimit != 1 || o.raw.NextHeader() != wire.ProtoHopByHop || o.ip.Dst != wire.IPv6AllMLDv2Routers {
				t.Errorf("report %+v", o.ip)
			}
			recs, err := wire.ParseMLDv2Report(o.upper, o.ip.Src, o.ip.Dst)
			r, ok := recs.Next()
			if err != nil || !ok || r.Group != hostSN {
				t.Errorf("report records: %+v %v %v", r, ok, err)
			}
			kinds = append(kinds, "report from "+o.ip.Src.String())
		case wire.ICMPv6NeighSolicit:
			ns, err := wire.ParseNDPNeighborSolicit(o.upper, o.ip.Src, o.ip.Dst)
			if err != nil || ns.Target != hostLL || !ns.SourceLLA.IsZero() || len(ns.Nonce) != 6 || o.ip.Dst != hostSN || o.ip.HopLimit != 255 {
				t.Errorf("DAD probe %+v %+v %v", o.ip, ns, err)
			}
			kinds = append(kinds, "probe from "+o.ip.Src.String())
		default:
			t.Errorf("sent ICMPv6 type %d", o.typ())
		}
	}
	want := []string{"report from ::", "probe from ::", "report from ::", "report from fe80::ff:fe00:1"}
	if !slices.Equal(kinds, want) {
		t.Errorf("sent %q, want %q", kinds, want)
	}
	// Its own probe, if the link sends it back, is not a conflict.
	th2 := newHarness(t, func(c *Config) { c.IPv6 = true })
	var probe []byte
	for range 30 {
		for _, f := range th2.advance(50 * time.Millisecond) {
			if parse6(t, f).typ() == wire.ICMPv6NeighSolicit {
				probe = f
			}
		}
		if probe != nil {
			break
		}
	}
	th2.recv(probe)
	th2.settle()
	if a := th2.addr6(hostLL); a != "fe80::ff:fe00:1/64" {
		t.Errorf("after its own probe came back: %q", a)
	}
}

func TestIPv6NeighbourSolicitationAnswered(t *testing.T) {
	th := newHarness6(t)
	sent := th.recv(nsFrom(peerLL, hostLL))
	nas := only6(t, sent, wire.ICMPv6NeighAdvert)
	if len(sent) != 1 || len(nas) != 1 {
		t.Fatalf("sent %d frames, want one advertisement", len(sent))
	}
	o := nas[0]
	na, err := wire.ParseNDPNeighborAdvert(o.upper, o.ip.Src, o.ip.Dst)
	if err != nil || o.eth.Dst != peerMAC || o.ip.Src != hostLL || o.ip.Dst != peerLL || o.ip.HopLimit != 255 ||
		!na.Solicited || !na.Override || na.Router || na.Target != hostLL || na.TargetLLA != hostMAC {
		t.Errorf("advertisement %+v %+v %v", o.ip, na, err)
	}
	if e, ok := th.entry(peerLL); !ok || e.State != Stale || e.MAC != peerMAC {
		t.Errorf("solicitor's entry %+v %v, want it stale (RFC 4861 7.2.3)", e, ok)
	}
	th.wantStats(map[Counter]uint64{NDPRxNS: 1, NDPTxNA: 1})
	// A solicitation for an address that is not ours is not answered;
	// nor a solicitation whose hop limit is not 255.
	if sent := th.recv(nsFrom(peerLL, netip.MustParseAddr("fe80::99"))); len(sent) != 0 {
		t.Errorf("answered for another address: %d frames", len(sent))
	}
	bad := nsFrom(peerLL, hostLL)
	bad[wire.EthHeaderLen+wire.IPv6HopLimitOff] = 254
	if sent := th.recv(bad); len(sent) != 0 {
		t.Errorf("answered hop limit 254")
	}
	th.wantStats(map[Counter]uint64{RxNotForUs: 1, NDPRxInvalid: 1})
}

// Another node's DAD for our address is answered to all-nodes, so that it
// finds the address in use (the kernel marks it dadfailed).
func TestIPv6DefendsAgainstDAD(t *testing.T) {
	th := newHarness6(t)
	nas := only6(t, th.recv(nsFrom(netip.IPv6Unspecified(), hostLL)), wire.ICMPv6NeighAdvert)
	if len(nas) != 1 {
		t.Fatalf("%d advertisements", len(nas))
	}
	o := nas[0]
	na, err := wire.ParseNDPNeighborAdvert(o.upper, o.ip.Src, o.ip.Dst)
	if err != nil || o.ip.Dst != wire.IPv6AllNodes || o.eth.Dst != allMAC || na.Solicited || !na.Override || na.TargetLLA != hostMAC {
		t.Errorf("defence %+v %+v %v", o.ip, na, err)
	}
	if _, ok := th.entry(netip.IPv6Unspecified()); ok || len(th.snap().ARP) != 0 {
		t.Errorf("learned from a DAD probe: %+v", th.snap().ARP)
	}
}

// DAD finds an address in use: an advertisement for it, or another node's
// probe, while it is tentative.
func TestIPv6DuplicateAddress(t *testing.T) {
	for _, conflict := range []string{"advertisement", "probe"} {
		th := newHarness6(t)
		th.mustExec("tap0/ctl", "add 2001:db8::1/64")
		if a := th.addr6(host6.Addr()); a != "2001:db8::1/64 tentative" {
			t.Errorf("%s: %q", conflict, a)
		}
		f := naFrom(peerMAC, host6.Addr(), wire.IPv6AllNodes, host6.Addr(), false)
		if conflict == "probe" {
			f = nsFrom(netip.IPv6Unspecified(), host6.Addr())
		}
		th.recv(f)
		th.wantEvent(EventConflict, "2001:db8::1 is in use")
		th.settle()
		if a := th.addr6(host6.Addr()); a != "2001:db8::1/64 duplicate" {
			t.Errorf("%s: %q, want duplicate", conflict, a)
		}
		th.wantStats(map[Counter]uint64{DADDuplicate: 1})
		// It is never answered for, and the read-back keeps it.
		if sent := th.recv(nsFrom(peerLL, host6.Addr())); len(sent) != 0 {
			t.Errorf("%s: answered for a duplicate address", conflict)
		}
		if c := string(AppendConfig(nil, th.snap().Config)); !strings.Contains(c, "add 2001:db8::1/64\n") {
			t.Errorf("%s: read-back lost it:\n%s", conflict, c)
		}
		// Removing and adding it again runs DAD again.
		th.mustExec("tap0/ctl", "remove 2001:db8::1/64\nadd 2001:db8::1/64")
		th.settle()
		if a := th.addr6(host6.Addr()); a != "2001:db8::1/64" {
			t.Errorf("%s: after remove and add: %q", conflict, a)
		}
	}
}

// An advertisement that claims a usable address of ours is counted and
// logged, and changes nothing.
func TestIPv6SpoofedAdvertisement(t *testing.T) {
	th := newHarness6(t)
	th.recv(naFrom(otherMAC, hostLL, wire.IPv6AllNodes, hostLL, false))
	th.wantEvent(EventConflict, "ndp conflict: fe80::ff:fe00:1 is-at 02:00:00:00:00:09")
	th.recv(naFrom(otherMAC, hostLL, wire.IPv6AllNodes, hostLL, false))
	if len(th.events) != 0 {
		t.Errorf("a second conflict within a second logged again: %+v", th.events)
	}
	th.wantStats(map[Counter]uint64{NDPConflicts: 2, NDPRxNA: 2})
	if a := th.addr6(hostLL); a != "fe80::ff:fe00:1/64" {
		t.Errorf("%q after a spoofed advertisement", a)
	}
	if nas := only6(t, th.recv(nsFrom(peerLL, hostLL)), wire.ICMPv6NeighAdvert); len(nas) != 1 {
		t.Errorf("no longer answers for its address")
	}
}

func TestIPv6EchoReply(t *testing.T) {
	th := newHarness6(t)
	data := []byte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRST")
	// Unknown: the reply waits while the host solicits the peer.
	sent := th.recv(echo6(peerLL, hostLL, 1, data))
	ns := only6(t, sent, wire.ICMPv6NeighSolicit)
	if len(sent) != 1 || len(ns) != 1 || ns[0].ip.Dst != wire.SolicitedNodeMulticast(peerLL) || ns[0].ip.Src != hostLL {
		t.Fatalf("sent %d frames, want one solicitation for %v", len(sent), peerLL)
	}
	sent = th.recv(naFrom(peerMAC, peerLL, hostLL, peerLL, true))
	replies := only6(t, sent, wire.ICMPv6EchoReply)
	if len(replies) != 1 {
		t.Fatalf("sent %d frames after the advertisement, want the reply", len(sent))
	}
	o := replies[0]
	e, err := wire.ParseICMPv6Echo(o.upper, o.ip.Src, o.ip.Dst)
	if err != nil || o.eth.Dst != peerMAC || o.eth.Src != hostMAC || o.ip.Src != hostLL || o.ip.Dst != peerLL || o.ip.HopLimit != 64 ||
		e.Ident != 0x77 || e.Seq != 1 || !bytes.Equal(e.Data, data) {
		t.Errorf("reply %+v %+v %v", o.ip, e, err)
	}
	if e, ok := th.entry(peerLL); !ok || e.State != Reachable {
		t.Errorf("peer %+v after a solicited advertisement", e)
	}
	// Known now: answered at once; to a group too, from the link-local
	// address; not from a tentative or another address.
	if r := only6(t, th.recv(echo6(peerLL, hostLL, 2, data)), wire.ICMPv6EchoReply); len(r) != 1 {
		t.Errorf("second ping: %d replies", len(r))
	}
	r := only6(t, th.recv(echo6(peerLL, wire.IPv6AllNodes, 3, nil)), wire.ICMPv6EchoReply)
	if len(r) != 1 || r[0].ip.Src != hostLL {
		t.Errorf("ping to all-nodes: %+v", r)
	}
	if r := th.recv(echo6(peerLL, netip.MustParseAddr("fe80::99"), 4, nil)); len(r) != 0 {
		t.Errorf("answered for another address")
	}
	th.wantStats(map[Counter]uint64{ICMPv6EchoRx: 3, ICMPv6EchoTx: 3, RxNotForUs: 1})
	// A bad checksum is dropped and counted.
	bad := echo6(peerLL, hostLL, 5, data)
	bad[len(bad)-1] ^= 0xff
	if r := th.recv(bad); len(r) != 0 {
		t.Errorf("answered a bad checksum")
	}
	th.wantStats(map[Counter]uint64{ICMPv6RxOther: 1})
}

// RFC 4861 7.3: reachable, stale after ReachableTime, delay when used,
// probe after 5 seconds, reachable again on a solicited advertisement; a
// neighbour that stops answering fails.
func TestIPv6NeighbourUnreachabilityDetection(t *testing.T) {
	th := newHarness6(t)
	th.recv(nsFrom(peerLL, hostLL)) // stale, learned
	th.recv(echo6(peerLL, hostLL, 1, nil))
	if e, _ := th.entry(peerLL); e.State != Delay || e.TTL != delayFirstProbe {
		t.Errorf("after use: %+v, want delay 5s", e)
	}
	sent := th.advance(delayFirstProbe)
	ns := only6(t, sent, wire.ICMPv6NeighSolicit)
	if len(ns) != 1 || ns[0].ip.Dst != peerLL || ns[0].eth.Dst != peerMAC {
		t.Fatalf("probe: %+v", ns)
	}
	if e, _ := th.entry(peerLL); e.State != Probe {
		t.Errorf("after the delay: %+v", e)
	}
	th.recv(naFrom(peerMAC, peerLL, hostLL, peerLL, true))
	e, _ := th.entry(peerLL)
	if e.State != Reachable || e.TTL < baseReachableTime/2 || e.TTL > baseReachableTime*3/2 {
		t.Errorf("after the answer: %+v", e)
	}
	th.advance(baseReachableTime * 3 / 2)
	if e, _ := th.entry(peerLL); e.State != Stale {
		t.Errorf("after ReachableTime: %+v", e)
	}
	// Used again, and the probes go unanswered: failed, then forgotten.
	th.recv(echo6(peerLL, hostLL, 2, nil))
	th.advance(delayFirstProbe)
	probes := 1
	for range 3 {
		probes += len(only6(t, th.advance(retransTimer), wire.ICMPv6NeighSolicit))
	}
	if e, _ := th.entry(peerLL); e.State != Failed || probes != maxUnicastSolicit {
		t.Errorf("after %d unanswered probes: %+v", probes, e)
	}
	th.wantStats(map[Counter]uint64{NDPFailed: 1})
	th.advance(DefaultARPTimeout)
	if e, ok := th.entry(peerLL); ok {
		t.Errorf("failed entry kept past arptimeout: %+v", e)
	}
}

// An address nobody answers for: three multicast solicitations, then the
// waiting frames are dropped and the log says so.
func TestIPv6ResolutionFails(t *testing.T) {
	th := newHarness6(t)
	th.mustExec("tap0/arp", "resolve fe80::77")
	th.advance(retransTimer)
	th.advance(retransTimer)
	th.advance(retransTimer)
	th.wantEvent(EventUnresolved, "ndp: fe80::77 did not answer 3 solicitations")
	if e, ok := th.entry(netip.MustParseAddr("fe80::77")); !ok || e.State != Failed {
		t.Errorf("entry %+v %v", e, ok)
	}
	th.wantStats(map[Counter]uint64{NDPTxNS: 3, NDPFailed: 1})
}

func TestIPv6ParameterProblems(t *testing.T) {
	th := newHarness6(t)
	th.recv(nsFrom(peerLL, hostLL))
	echo := wire.ICMPv6EchoRepr{Type: wire.ICMPv6EchoRequest, Ident: 1, Seq: 1}.Append(nil, peerLL, hostLL)
	hbh := func(opt ...byte) []byte {
		b := append([]byte{byte(wire.ProtoICMPv6), 0}, opt...)
		for len(b)%8 != 0 {
			b = append(b, 0)
		}
		b[1] = byte(len(b)/8 - 1)
		return b
	}
	for _, c := range []struct {
		name  string
		dst   netip.Addr
		nh    wire.IPProtocol
		body  []byte
		code  int // -1: no error
		ptr  uint32
		fate Counter
	}{
		{"unknown next header", hostLL, 150, []byte("payload"), wire.ICMPv6UnknownNextHeader, 6, IPv6RxUnknownNext},
		{"udp before it exists", hostLL, wire.ProtoUDP, make([]byte, 8), wire.ICMPv6UnknownNextHeader, 6, IPv6RxUnknownNext},
		{"option 10 (discard, error)", hostLL, wire.ProtoHopByHop, append(hbh(0x87, 2, 0, 0), echo...), wire.ICMPv6UnknownOption, 42, IPv6RxBadHeader},
		{"option 11 (discard, error unless multicast)", hostLL, wire.ProtoDstOpts, append(hbh(0xc7, 0), echo...), wire.ICMPv6UnknownOption, 42, IPv6RxBadHeader},
		{"option 11 to a group", wire.IPv6AllNodes, wire.ProtoDstOpts, append(hbh(0xc7, 0), echo...), -1, 0, IPv6RxBadHeader},
		{"option 10 to a group", wire.IPv6AllNodes, wire.ProtoDstOpts, append(hbh(0x87, 0), echo...), wire.ICMPv6UnknownOption, 42, IPv6RxBadHeader},
		{"option 01 (discard)", hostLL, wire.ProtoHopByHop, append(hbh(0x47, 0), echo...), -1, 0, IPv6RxBadHeader},
		{"option past the header", hostLL, wire.ProtoHopByHop, append([]byte{58, 0, 0x07, 9, 0, 0, 0, 0}, echo...), -1, 0, IPv6RxBadHeader},
		{"hop-by-hop not first", hostLL, wire.ProtoDstOpts, append([]byte{0, 0, 1, 4, 0, 0, 0, 0}, append(hbh(1, 0), echo...)...), wire.ICMPv6UnknownNextHeader, 40, IPv6RxUnknownNext},
		{"routing header, segments left", hostLL, wire.ProtoRouting, append(append([]byte{58, 2, 0, 1, 0, 0, 0, 0}, wiretest.Addr16("2001:db8::9")...), echo...), wire.ICMPv6ErroneousHeader, 42, IPv6RxBadHeader},
		{"unknown next header to a group", wire.IPv6AllNodes, 150, []byte("x"), -1, 0, IPv6RxUnknownNext},
		{"an option skipped, then an unknown next header", hostLL, wire.ProtoHopByHop, append([]byte{150, 0, 0x07, 2, 0, 0, 1, 0}, "abcdefgh"...), wire.ICMPv6UnknownNextHeader, 40, IPv6RxUnknownNext},
	} {
		before := th.h.stats
		payload := c.body
		ethDst := hostMAC
		if c.dst.IsMulticast() {
			ethDst = wire.MulticastMAC(c.dst)
		}
		sent := th.recv(frame6(ethDst, peerMAC, peerLL, c.dst, c.nh, 64, payload))
		errs := only6(t, sent, wire.ICMPv6ParamProblem)
		switch {
		case c.code < 0 && len(sent) != 0:
			t.Errorf("%s: sent %d frames, want none", c.name, len(sent))
		case c.code >= 0 && len(errs) != 1:
			t.Errorf("%s: sent %d parameter problems", c.name, len(errs))
		case c.code >= 0:
			e, err := wire.ParseICMPv6Error(errs[0].upper, errs[0].ip.Src, errs[0].ip.Dst)
			if err != nil || int(e.Code) != c.code || e.Param != c.ptr || errs[0].ip.Dst != peerLL || errs[0].ip.Src != hostLL ||
				!bytes.Equal(e.Invoking, frame6(ethDst, peerMAC, peerLL, c.dst, c.nh, 64, payload)[wire.EthHeaderLen:][:wire.IPv6HeaderLen+len(payload)]) {
				t.Errorf("%s: %+v %v, want code %d pointer %d quoting the packet", c.name, e, err, c.code, c.ptr)
			}
		}
		if th.h.stats[c.fate] != before[c.fate]+1 {
			t.Errorf("%s: %s did not count it", c.name, c.fate)
		}
	}
	// Never an error about an error.
	inner := frame6(hostMAC, hostMAC, hostLL, peerLL, 17, 64, make([]byte, 8))[wire.EthHeaderLen:]
	errMsg := icmp6(peerLL, hostLL, wire.ICMPv6ParamProblem, 1, append([]byte{0, 0, 0, 6}, inner[:48]...))
	if sent := th.recv(frame6(hostMAC, peerMAC, peerLL, hostLL, wire.ProtoHopByHop, 64, append([]byte{58, 0, 0x87, 2, 0, 0, 0, 0}, errMsg...))); len(sent) != 0 {
		t.Errorf("answered an error with an error")
	}
}

// Errors go out at most 1000 a second, 50 at once.
func TestIPv6ErrorRateLimit(t *testing.T) {
	th := newHarness6(t)
	th.recv(nsFrom(peerLL, hostLL))
	sent := 0
	for range 100 {
		sent += len(th.recv(frame6(hostMAC, peerMAC, peerLL, hostLL, 150, 64, []byte("x"))))
	}
	if sent != icmpErrorBurst {
		t.Errorf("sent %d errors for 100 packets at once, want %d", sent, icmpErrorBurst)
	}
	th.wantStats(map[Counter]uint64{ICMPv6ErrorTx: icmpErrorBurst, ICMPv6RateLimited: 100 - icmpErrorBurst})
	th.now = th.now.Add(10 * time.Millisecond)
	sent = 0
	for range 20 {
		sent += len(th.recv(frame6(hostMAC, peerMAC, peerLL, hostLL, 150, 64, []byte("x"))))
	}
	if sent != 10 {
		t.Errorf("10ms later: %d errors, want 10", sent)
	}
}

// fragments6 cuts an ICMPv6 message from src to dst into fragments of at
// most size bytes of payload each (a multiple of 8 but the last).
func fragments6(src, dst netip.Addr, id uint32, m []byte, size int) [][]byte {
	var fs [][]byte
	for off := 0; off < len(m); off += size {
		part := m[off:min(off+size, len(m))]
		fh := wire.IPv6FragmentRepr{NextHeader: wire.ProtoICMPv6, Offset: off, More: off+len(part) < len(m), Ident: id}.Append(nil)
		fs = append(fs, frame6(hostMAC, peerMAC, src, dst, wire.ProtoFragment, 64, append(fh, part...)))
	}
	return fs
}

func TestIPv6Fragments(t *testing.T) {
	th := newHarness6(t)
	th.recv(nsFrom(peerLL, hostLL))
	data := make([]byte, 3000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	m := wire.ICMPv6EchoRepr{Type: wire.ICMPv6EchoRequest, Ident: 9, Seq: 1, Data: data}.Append(nil, peerLL, hostLL)
	fs := fragments6(peerLL, hostLL, 1, m, 1448)
	var sent [][]byte
	for _, i := range []int{2, 0, 1} { // out of order
		sent = append(sent, th.recv(fs[i])...)
	}
	th.wantStats(map[Counter]uint64{IPv6RxFragment: 2, ICMPv6EchoRx: 1, IPv6ReasmOK: 1})
	// The reply goes in fragments that fit the MTU, and reassembles.
	var reply []byte
	for _, f := range sent {
		o := parse6(t, f)
		if len(f) > wire.EthHeaderLen+1500 || o.frag == 0 {
			t.Fatalf("reply frame of %d bytes, fragment header at %d", len(f), o.frag)
		}
		fh, _ := wire.NewIPv6FragmentHeader(o.raw[o.frag:])
		if fh.Offset() != len(reply) || fh.NextHeader() != wire.ProtoICMPv6 {
			t.Fatalf("fragment at %d, want %d", fh.Offset(), len(reply))
		}
		reply = append(reply, o.raw[o.frag+8:wire.IPv6HeaderLen+int(o.raw.PayloadLen())]...)
	}
	e, err := wire.ParseICMPv6Echo(reply, hostLL, peerLL)
	if len(sent) != 3 || err != nil || e.Type != wire.ICMPv6EchoReply || !bytes.Equal(e.Data, data) {
		t.Fatalf("reply in %d fragments: %v", len(sent), err)
	}

	// Overlapping fragments drop the datagram (RFC 5722), and the rest of
	// it with it; a duplicate is dropped alone.
	fs = fragments6(peerLL, hostLL, 2, m, 1448)
	over := fragments6(peerLL, hostLL, 2, m, 1440)[1] // starts at 1440, inside the first
	th.recv(fs[0])
	th.recv(over)
	for _, f := range fs[1:] {
		if sent := th.recv(f); len(sent) != 0 {
			t.Errorf("answered a datagram with overlapping fragments")
		}
	}
	th.wantStats(map[Counter]uint64{IPv6RxFragDropped: 3, ICMPv6EchoRx: 1})
	fs = fragments6(peerLL, hostLL, 3, m, 1448)
	th.recv(fs[0])
	th.recv(fs[0])
	th.recv(fs[1])
	if sent := th.recv(fs[2]); len(sent) != 3 {
		t.Errorf("a duplicate fragment spoiled the datagram: %d frames sent", len(sent))
	}
	th.wantStats(map[Counter]uint64{IPv6RxFragDropped: 4, ICMPv6EchoRx: 2})

	// A datagram that does not complete: a time exceeded after 60s when
	// its first fragment came, nothing when it did not.
	th.recv(fragments6(peerLL, hostLL, 4, m, 1448)[0])
	th.recv(fragments6(peerLL, hostLL, 5, m, 1448)[1])
	sent = th.advance(ReassemblyTimeout6)
	te := only6(t, sent, wire.ICMPv6TimeExceeded)
	if len(te) != 1 || te[0].upper[1] != wire.ICMPv6ReassemblyExceeded || te[0].ip.Dst != peerLL {
		t.Errorf("at the timeout: %d time exceeded", len(te))
	}
	th.wantStats(map[Counter]uint64{IPv6ReasmTimeout: 2})
	if n := th.h.v6.frag.bytes; n != 0 {
		t.Errorf("%d bytes held after every datagram ended", n)
	}

	// Bounds: MaxReassembly6 datagrams at once.
	for i := range MaxReassembly6 + 3 {
		th.recv(fragments6(peerLL, hostLL, uint32(100+i), m, 1448)[0])
	}
	th.wantStats(map[Counter]uint64{IPv6RxFragDropped: 7})
	// A fragment whose length is not a multiple of 8, not the last: a
	// parameter problem pointing at the payload length.
	odd := fragments6(peerLL, hostLL, 7, m[:100], 60)[0]
	pp := only6(t, th.recv(odd), wire.ICMPv6ParamProblem)
	if len(pp) != 1 || binary.BigEndian.Uint32(pp[0].upper[4:]) != wire.IPv6PayloadLenOff {
		t.Errorf("odd fragment: %+v", pp)
	}
	// An atomic fragment is the datagram itself (RFC 6946).
	small := wire.ICMPv6EchoRepr{Type: wire.ICMPv6EchoRequest, Ident: 9, Seq: 2, Data: data[:16]}.Append(nil, peerLL, hostLL)
	if r := only6(t, th.recv(fragments6(peerLL, hostLL, 8, small, 1448)[0]), wire.ICMPv6EchoReply); len(r) != 1 {
		t.Errorf("atomic fragment: %d replies", len(r))
	}
}
