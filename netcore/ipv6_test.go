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

// only6 parses the IPv6 frames and returns those of ICMPv6 type typ.
func only6(t testing.TB, frames [][]byte, typ wire.ICMPv6Type) []out6 {
	t.Helper()
	var r []out6
	for _, f := range frames {
		if eth, _ := wire.ParseEthernet(f); eth.Type != wire.EtherTypeIPv6 {
			continue
		}
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
		name string
		dst  netip.Addr
		nh   wire.IPProtocol
		body []byte
		code int // -1: no error
		ptr  uint32
		fate Counter
	}{
		{"unknown next header", hostLL, 150, []byte("payload"), wire.ICMPv6UnknownNextHeader, 6, IPv6RxUnknownNext},
		{"tcp with a bad checksum", hostLL, wire.ProtoTCP, make([]byte, 20), -1, 0, TCPRxBad},
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
	if sent != ICMPErrorBurst {
		t.Errorf("sent %d errors for 100 packets at once, want %d", sent, ICMPErrorBurst)
	}
	th.wantStats(map[Counter]uint64{ICMPv6ErrorTx: ICMPErrorBurst, ICMPv6RateLimited: 100 - ICMPErrorBurst})
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
	th.wantStats(map[Counter]uint64{IPv6RxFragOverlap: 3, ICMPv6EchoRx: 1})
	fs = fragments6(peerLL, hostLL, 3, m, 1448)
	th.recv(fs[0])
	th.recv(fs[0])
	th.recv(fs[1])
	if sent := th.recv(fs[2]); len(sent) != 3 {
		t.Errorf("a duplicate fragment spoiled the datagram: %d frames sent", len(sent))
	}
	th.wantStats(map[Counter]uint64{IPv6RxFragDuplicate: 1, ICMPv6EchoRx: 2})

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
	if n := th.h.v6.frag.r.held(); n != 0 {
		t.Errorf("%d datagrams held after every one ended", n)
	}

	// Bounds: MaxReassembly datagrams at once.
	for i := range MaxReassembly + 3 {
		th.recv(fragments6(peerLL, hostLL, uint32(100+i), m, 1448)[0])
	}
	th.wantStats(map[Counter]uint64{IPv6RxFragNoRoom: 3})
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

// raFrom is a router advertisement from router (link-local, at mac) with
// one prefix.
func raFrom(router netip.Addr, mac wire.MAC, life uint16, mtu uint32, prefixes ...wire.NDPPrefixInfo) []byte {
	ra := wire.NDPRouterAdvert{CurHopLimit: 61, Lifetime: life, SourceLLA: mac, MTU: mtu, Prefixes: prefixes}
	return frame6(allMAC, mac, router, wire.IPv6AllNodes, wire.ProtoICMPv6, 255, ra.Append(nil, router, wire.IPv6AllNodes))
}

var (
	routerLL  = netip.MustParseAddr("fe80::1")
	routerMAC = wire.MAC{0x02, 0, 0, 0, 0, 0x0a}
	prefix1   = netip.MustParsePrefix("2001:db8:1::/64")
	slaac1    = netip.MustParseAddr("2001:db8:1::ff:fe00:1")
)

// With autoconf on, the host solicits routers once its link-local address
// is usable, forms an address from an advertised prefix (with DAD), takes
// the router as its default route and the advertised MTU and hop limit.
func TestIPv6Autoconf(t *testing.T) {
	th := newHarness(t, func(c *Config) { c.IPv6, c.Autoconf = true, true })
	rs := only6(t, th.settle(), wire.ICMPv6RouterSolicit)
	if len(rs) != 1 || rs[0].ip.Src != hostLL || rs[0].ip.Dst != wire.IPv6AllRouters || rs[0].ip.HopLimit != 255 {
		t.Fatalf("router solicitations: %+v", rs)
	}
	if r, err := wire.ParseNDPRouterSolicit(rs[0].upper, rs[0].ip.Src, rs[0].ip.Dst); err != nil || r.SourceLLA != hostMAC {
		t.Errorf("solicitation %+v %v", r, err)
	}
	// Unanswered, it asks twice more, 4 seconds apart, and stops.
	n := 0
	for range 5 {
		n += len(only6(t, th.advance(rtrSolicitInterval), wire.ICMPv6RouterSolicit))
	}
	if n != maxRtrSolicitations-1 {
		t.Errorf("%d more solicitations, want %d", n, maxRtrSolicitations-1)
	}
	pi := wire.NDPPrefixInfo{Prefix: prefix1, OnLink: true, Autonomous: true, ValidLifetime: 3600, PreferredLifetime: 1800}
	th.recv(raFrom(routerLL, routerMAC, 1800, 1400, pi))
	if a := th.addr6(slaac1); a != "2001:db8:1::ff:fe00:1/64 tentative" {
		t.Errorf("address from the prefix: %q", a)
	}
	th.settle()
	if a := th.addr6(slaac1); a != "2001:db8:1::ff:fe00:1/64" {
		t.Errorf("after DAD: %q", a)
	}
	if e, ok := th.entry(routerLL); !ok || e.MAC != routerMAC || e.State != Stale {
		t.Errorf("router's entry %+v %v", e, ok)
	}
	if th.h.PathMTU(peer6) != 1400 || th.h.v6.hopLimit != 61 {
		t.Errorf("path MTU %d, hop limit %d after the advertisement", th.h.PathMTU(peer6), th.h.v6.hopLimit)
	}
	// A ping from off the link goes back through the router; one from
	// the prefix goes straight.
	far := netip.MustParseAddr("2001:db8:9::5")
	m := wire.ICMPv6EchoRepr{Type: wire.ICMPv6EchoRequest, Ident: 1, Seq: 1}.Append(nil, far, slaac1)
	r := only6(t, th.recv(frame6(hostMAC, routerMAC, far, slaac1, wire.ProtoICMPv6, 60, m)), wire.ICMPv6EchoReply)
	if len(r) != 1 || r[0].eth.Dst != routerMAC || r[0].ip.Src != slaac1 || r[0].ip.Dst != far || r[0].ip.HopLimit != 61 {
		t.Errorf("reply to %v: %+v", far, r)
	}
	near := netip.MustParseAddr("2001:db8:1::7")
	m = wire.ICMPv6EchoRepr{Type: wire.ICMPv6EchoRequest, Ident: 1, Seq: 2}.Append(nil, near, slaac1)
	ns := only6(t, th.recv(frame6(hostMAC, peerMAC, near, slaac1, wire.ProtoICMPv6, 64, m)), wire.ICMPv6NeighSolicit)
	if len(ns) != 1 || ns[0].ip.Dst != wire.SolicitedNodeMulticast(near) || ns[0].ip.Src != slaac1 {
		t.Errorf("on-link %v: %+v", near, ns)
	}
	// Lifetimes: deprecated after the preferred one, gone after the valid.
	th.advance(1800 * time.Second)
	if th.h.v6.addrs[th.h.v6.find(slaac1)].state != addrDeprecated {
		t.Errorf("not deprecated after its preferred lifetime")
	}
	if src, _ := th.h.source6(far); src != slaac1 {
		t.Errorf("source %v: a deprecated address is still the only one", src)
	}
	// RFC 4862 5.5.3 (e): an advertisement cannot cut the valid lifetime
	// below two hours, but a longer one extends it.
	valid := th.h.v6.addrs[th.h.v6.find(slaac1)].valid
	pi.ValidLifetime, pi.PreferredLifetime = 60, 30
	th.recv(raFrom(routerLL, routerMAC, 1800, 0, pi))
	a := th.h.v6.addrs[th.h.v6.find(slaac1)]
	if a.state != addrPreferred || !a.valid.Equal(valid) {
		t.Errorf("after a short advertisement: state %d, valid for %v, want %v", a.state, a.valid.Sub(th.now), valid.Sub(th.now))
	}
	pi.ValidLifetime = 3 * 3600
	th.recv(raFrom(routerLL, routerMAC, 1800, 0, pi))
	if a := th.h.v6.addrs[th.h.v6.find(slaac1)]; a.valid.Sub(th.now) != 3*time.Hour {
		t.Errorf("after a long advertisement: valid for %v", a.valid.Sub(th.now))
	}
	th.advance(3*time.Hour + time.Second)
	if a := th.addr6(slaac1); a != "" || len(th.h.v6.routers) != 0 {
		t.Errorf("after its valid lifetime: %q, %d routers", a, len(th.h.v6.routers))
	}
	th.recv(raFrom(routerLL, routerMAC, 1800, 0))
	// Router lifetime 0 withdraws it; autoconf off forgets it all.
	th.recv(raFrom(routerLL, routerMAC, 0, 0))
	if len(th.h.v6.routers) != 0 {
		t.Errorf("router kept after lifetime 0")
	}
	th.recv(raFrom(routerLL, routerMAC, 1800, 0, wire.NDPPrefixInfo{Prefix: prefix1, OnLink: true, Autonomous: true, ValidLifetime: 3600, PreferredLifetime: 1800}))
	th.mustExec("tap0/ctl", "ipv6 autoconf off")
	if a := th.addr6(slaac1); a != "" || len(th.h.v6.routers) != 0 || len(th.h.v6.prefixes) != 0 {
		t.Errorf("autoconf off kept %q, %d routers, %d prefixes", a, len(th.h.v6.routers), len(th.h.v6.prefixes))
	}
	th.recv(raFrom(routerLL, routerMAC, 1800, 0, pi))
	th.wantStats(map[Counter]uint64{NDPRAIgnored: 1})
}

// Odd advertisements: no crash, the right fate, bounds kept.
func TestIPv6OddAdvertisements(t *testing.T) {
	th := newHarness6(t, func(c *Config) { c.Autoconf = true })
	pi := func(p string, bits int, valid, pref uint32) wire.NDPPrefixInfo {
		return wire.NDPPrefixInfo{Prefix: netip.PrefixFrom(netip.MustParseAddr(p), bits), OnLink: true, Autonomous: true, ValidLifetime: valid, PreferredLifetime: pref}
	}
	good := raFrom(routerLL, routerMAC, 1800, 0)
	for _, c := range []struct {
		name  string
		frame []byte
		fate  Counter
	}{
		{"from a global address", frame6(allMAC, routerMAC, peer6, wire.IPv6AllNodes, wire.ProtoICMPv6, 255,
			wire.NDPRouterAdvert{Lifetime: 1800}.Append(nil, peer6, wire.IPv6AllNodes)), NDPRxRA},
		{"hop limit 64", func() []byte { f := bytes.Clone(good); f[wire.EthHeaderLen+wire.IPv6HopLimitOff] = 64; return f }(), NDPRxInvalid},
		{"option of length 0", func() []byte {
			f := bytes.Clone(good)
			f[wire.EthHeaderLen+wire.IPv6HeaderLen+wire.NDPRALen+1] = 0
			wire.SetICMPv6Checksum(f[wire.EthHeaderLen+wire.IPv6HeaderLen:wire.EthHeaderLen+wire.IPv6HeaderLen+wire.NDPRALen+8], routerLL, wire.IPv6AllNodes)
			return f
		}(), NDPRxInvalid},
		{"unknown options", frame6(allMAC, routerMAC, routerLL, wire.IPv6AllNodes, wire.ProtoICMPv6, 255,
			icmp6(routerLL, wire.IPv6AllNodes, wire.ICMPv6RouterAdvert, 0, append(make([]byte, 12), 99, 1, 0, 0, 0, 0, 0, 0, 25, 3, 0, 0, 0, 0, 0, 0, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53))), NDPRxRA},
		{"a /48 prefix, a link-local prefix, preferred > valid, a /129", raFrom(routerLL, routerMAC, 1800, 0,
			pi("2001:db8:2::", 48, 3600, 1800), pi("fe80::", 64, 3600, 1800), pi("2001:db8:3::", 64, 100, 200)), NDPRxRA},
		{"MTU below 1280 and above the link", raFrom(routerLL, routerMAC, 1800, 1000), NDPRxRA},
		{"MTU above the link", raFrom(routerLL, routerMAC, 1800, 9000), NDPRxRA},
	} {
		before := th.h.stats[c.fate]
		if sent := th.recv(c.frame); len(sent) != 0 {
			t.Errorf("%s: sent %d frames", c.name, len(sent))
		}
		if th.h.stats[c.fate] != before+1 {
			t.Errorf("%s: not counted in %s", c.name, c.fate)
		}
	}
	if n := len(th.h.v6.addrs); n != 1 {
		t.Errorf("%d addresses formed from odd prefixes", n-1)
	}
	if th.h.PathMTU(peer6) != 1500 {
		t.Errorf("path MTU %d after odd MTU options", th.h.PathMTU(peer6))
	}
	// A flood of prefixes forms at most MaxAutoconfAddrs addresses.
	for i := range 40 {
		th.recv(raFrom(routerLL, routerMAC, 1800, 0, pi(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xf0, byte(i)}).String(), 64, 3600, 1800)))
	}
	if n := len(th.h.v6.addrs) - 1; n != MaxAutoconfAddrs || len(th.h.v6.prefixes) != maxPrefixes6 {
		t.Errorf("%d addresses, %d prefixes from 40 advertised", n, len(th.h.v6.prefixes))
	}
}

// A general query is answered, within its maximum response delay, with a
// report of every group the host is in.
func TestIPv6MLDQuery(t *testing.T) {
	th := newHarness6(t)
	th.mustExec("tap0/ctl", "add 2001:db8::1234/64")
	th.settle()
	q := icmp6(routerLL, wire.IPv6AllNodes, wire.ICMPv6MLDQuery, 0, append([]byte{0x03, 0xe8, 0, 0}, append(make([]byte, 16), 2, 125, 0, 0)...))
	sent := th.recv(frame6(allMAC, routerMAC, routerLL, wire.IPv6AllNodes, wire.ProtoHopByHop, 1, append([]byte{58, 0, 5, 2, 0, 0, 1, 0}, q...)))
	if len(sent) != 0 {
		t.Errorf("answered at once")
	}
	var reports []out6
	for range 25 {
		reports = append(reports, only6(t, th.advance(50*time.Millisecond), wire.ICMPv6MLDv2Report)...)
	}
	if len(reports) != 1 {
		t.Fatalf("%d reports within the second the query allowed", len(reports))
	}
	recs, _ := wire.ParseMLDv2Report(reports[0].upper, reports[0].ip.Src, reports[0].ip.Dst)
	var groups []string
	for r, ok := recs.Next(); ok; r, ok = recs.Next() {
		if r.Type != wire.MLDModeIsExclude {
			t.Errorf("record type %d", r.Type)
		}
		groups = append(groups, r.Group.String())
	}
	if want := []string{"ff02::1:ff00:1", "ff02::1:ff00:1234"}; !slices.Equal(groups, want) || reports[0].ip.Src != hostLL {
		t.Errorf("report of %q from %v, want %q from the link-local address", groups, reports[0].ip.Src, want)
	}
	th.wantStats(map[Counter]uint64{MLDRxQuery: 1, MLDTxReport: mldRobustness + 1}) // the join's, and the answer
	// Removing the address leaves its group: a change report, twice.
	var leave []out6
	leave = append(leave, only6(t, th.mustExec("tap0/ctl", "remove 2001:db8::1234/64"), wire.ICMPv6MLDv2Report)...)
	leave = append(leave, only6(t, th.settle(), wire.ICMPv6MLDv2Report)...)
	if len(leave) != mldRobustness {
		t.Fatalf("%d reports after leaving", len(leave))
	}
	recs, _ = wire.ParseMLDv2Report(leave[0].upper, leave[0].ip.Src, leave[0].ip.Dst)
	if r, ok := recs.Next(); !ok || r.Type != wire.MLDChangeToInclude || r.Group != netip.MustParseAddr("ff02::1:ff00:1234") {
		t.Errorf("leave record %+v", r)
	}
}

// A new hardware address: an unsolicited advertisement of every usable
// address with it, and a new link-local address (with DAD).
func TestIPv6NewHardwareAddress(t *testing.T) {
	th := newHarness6(t, func(c *Config) { c.Addrs6 = []netip.Prefix{host6} })
	th.settle()
	newMAC := wire.MAC{0x02, 0, 0, 0, 0, 0x02}
	nas := only6(t, th.mustExec("tap0/ctl", "ea 02:00:00:00:00:02"), wire.ICMPv6NeighAdvert)
	if len(nas) != 1 {
		t.Fatalf("%d advertisements after ea", len(nas))
	}
	na, err := wire.ParseNDPNeighborAdvert(nas[0].upper, nas[0].ip.Src, nas[0].ip.Dst)
	if err != nil || na.Target != host6.Addr() || na.TargetLLA != newMAC || na.Solicited || !na.Override || nas[0].ip.Dst != wire.IPv6AllNodes || nas[0].eth.Src != newMAC {
		t.Errorf("advertisement %+v %+v %v", nas[0].ip, na, err)
	}
	newLL := wire.LinkLocal(newMAC)
	if th.addr6(hostLL) != "" || th.addr6(newLL) != "fe80::ff:fe00:2/64 tentative" {
		t.Errorf("link-local addresses: old %q, new %q", th.addr6(hostLL), th.addr6(newLL))
	}
	th.settle()
	if th.addr6(newLL) != "fe80::ff:fe00:2/64" {
		t.Errorf("after DAD: %q", th.addr6(newLL))
	}
}

// The ctl language: adding an IPv6 address turns IPv6 on; `ipv6 off`
// keeps the addresses for later; the read-back replays; below an MTU of
// 1280 IPv6 stops.
func TestIPv6Commands(t *testing.T) {
	th := newHarness(t)
	th.mustExec("tap0/ctl", "add 2001:db8::1/64\nadd fe80::2/64")
	th.settle()
	s := th.snap().Snapshot
	want := "02:00:00:00:00:01\n192.168.69.1/24\nfe80::ff:fe00:1/64\n2001:db8::1/64\nfe80::2/64\n"
	if got := string(s.AppendAddr(nil)); got != want {
		t.Errorf("addr:\n%s\nwant:\n%s", got, want)
	}
	wantCtl := "ea 02:00:00:00:00:01\nmtu 1500\npromiscuous off\narptimeout 60\nimpair off\nremove all\nadd 192.168.69.1/24\nadd 2001:db8::1/64\nadd fe80::2/64\nipv6 autoconf off\nipv6 on\nup\n"
	if got := string(AppendConfig(nil, s.Config)); got != wantCtl {
		t.Errorf("ctl:\n%s\nwant:\n%s", got, wantCtl)
	}
	for _, c := range []struct {
		text, msg string
	}{
		{"add 2001:db8::1/48", `tap0/ctl: line 1: "add 2001:db8::1/48": already exists: 2001:db8::1 is already an address of this host`},
		{"remove 2001:db8::1/48", `tap0/ctl: line 1: "remove 2001:db8::1/48": not found: 2001:db8::1/48 is not an address of this host`},
	} {
		if _, err := th.exec("tap0/ctl", c.text); err == nil || err.Error() != c.msg {
			t.Errorf("%q: %v, want %q", c.text, err, c.msg)
		}
	}
	th.mustExec("tap0/ctl", "ipv6 off")
	if s := th.snap().Snapshot; string(s.AppendAddr(nil)) != "02:00:00:00:00:01\n192.168.69.1/24\n" {
		t.Errorf("addr with IPv6 off:\n%s", s.AppendAddr(nil))
	}
	if sent := th.recv(nsFrom(peerLL, hostLL)); len(sent) != 0 || th.stat(RxOtherEthertype) != 1 {
		t.Errorf("IPv6 off: answered, or did not count it as another ethertype")
	}
	// The read-back replays onto a fresh host, IPv6 off and addresses kept.
	text := AppendConfig(nil, th.snap().Config)
	other := newHarness(t)
	other.mustExec("tap0/ctl", string(text))
	if got := other.snap().Config; !slices.Equal(got.Addrs6, th.snap().Config.Addrs6) || got.IPv6 {
		t.Errorf("replayed: %+v", got)
	}
	th.mustExec("tap0/ctl", "ipv6 on\nmtu 1279")
	if th.h.v6.running || th.addr6(hostLL) != "" {
		t.Errorf("IPv6 runs at MTU 1279")
	}
	th.mustExec("tap0/ctl", "mtu 1280")
	if !th.h.v6.running || th.addr6(hostLL) != "fe80::ff:fe00:1/64 tentative" {
		t.Errorf("IPv6 at MTU 1280: running %v, %q", th.h.v6.running, th.addr6(hostLL))
	}
	// Down and up again: DAD again.
	th.settle()
	th.mustExec("tap0/ctl", "down\nup")
	if th.addr6(hostLL) != "fe80::ff:fe00:1/64 tentative" {
		t.Errorf("after down and up: %q", th.addr6(hostLL))
	}
	th.mustExec("tap0/ctl", "remove all")
	if c := th.snap().Config; len(c.Addrs6) != 0 || !c.IPv6 {
		t.Errorf("remove all: %+v", c)
	}
}

// The arp file takes IPv6 addresses and lists both families, sorted.
func TestIPv6ARPFile(t *testing.T) {
	th := newHarness6(t)
	th.recv(whoHas(hostIP))
	th.recv(nsFrom(peerLL, hostLL))
	th.mustExec("tap0/arp", "add fe80::9 02:00:00:00:00:09")
	sent := th.mustExec("tap0/arp", "resolve fe80::77")
	if ns := only6(t, sent, wire.ICMPv6NeighSolicit); len(ns) != 1 || ns[0].ip.Dst != wire.SolicitedNodeMulticast(netip.MustParseAddr("fe80::77")) {
		t.Errorf("resolve sent %+v", ns)
	}
	got := string(AppendARP(nil, th.snap().ARP))
	want := "192.168.69.100 4a:49:58:75:94:f4 reachable 60\n" +
		"fe80::9 02:00:00:00:00:09 static -\n" +
		"fe80::77 00:00:00:00:00:00 incomplete 1\n" +
		"fe80::4849:58ff:fe75:94f4 4a:49:58:75:94:f4 stale 60\n"
	if got != want {
		t.Errorf("arp:\n%s\nwant:\n%s", got, want)
	}
	for _, c := range []struct{ text, msg string }{
		{"add fe80::ff:fe00:1 02:00:00:00:00:09", `tap0/arp: line 1: "add fe80::ff:fe00:1 02:00:00:00:00:09": bad IPv6 address: fe80::ff:fe00:1 is an address of this host`},
		{"resolve 2001:db8:77::1", `tap0/arp: line 1: "resolve 2001:db8:77::1": not on a connected subnet`},
		{"del fe80::5", `tap0/arp: line 1: "del fe80::5": not found: no ARP entry for fe80::5`},
		{"add ff02::1 02:00:00:00:00:09", `tap0/arp: line 1: "add ff02::1 02:00:00:00:00:09": bad IPv6 address: ff02::1 is not a unicast address`},
	} {
		if _, err := th.exec("tap0/arp", c.text); err == nil || err.Error() != c.msg {
			t.Errorf("%q: %v\nwant %q", c.text, err, c.msg)
		}
	}
	th.mustExec("tap0/arp", "del fe80::9")
	if _, ok := th.entry(netip.MustParseAddr("fe80::9")); ok {
		t.Errorf("del kept it")
	}
	// A static entry answers at once, and traffic never changes it.
	th.mustExec("tap0/arp", "add fe80::9 02:00:00:00:00:09")
	th.recv(naFrom(otherMAC, netip.MustParseAddr("fe80::9"), hostLL, netip.MustParseAddr("fe80::9"), true))
	if e, _ := th.entry(netip.MustParseAddr("fe80::9")); e.State != Static || e.MAC != (wire.MAC{2, 0, 0, 0, 0, 9}) {
		t.Errorf("static entry after an advertisement: %+v", e)
	}
	off := newHarness(t)
	if _, err := off.exec("tap0/arp", "resolve fe80::1"); err == nil || !strings.Contains(err.Error(), "IPv6 is off") {
		t.Errorf("resolve with IPv6 off: %v", err)
	}
}

// A packet too big about a packet of ours lowers the path MTU (never below
// 1280), and what the host sends next there goes in fragments that fit.
func TestIPv6PacketTooBig(t *testing.T) {
	th := newHarness6(t)
	th.recv(nsFrom(peerLL, hostLL))
	quoted := frame6(peerMAC, hostMAC, hostLL, peerLL, wire.ProtoICMPv6, 64, make([]byte, 1400))[wire.EthHeaderLen:]
	for _, mtu := range []uint32{1400, 1000} {
		ptb := icmp6(peerLL, hostLL, wire.ICMPv6PacketTooBig, 0, append(wiretest.BE32(mtu), quoted[:1232]...))
		th.recv(frame6(hostMAC, peerMAC, peerLL, hostLL, wire.ProtoICMPv6, 64, ptb))
	}
	if m := th.h.PathMTU(peerLL); m != wire.IPv6MinMTU {
		t.Errorf("path MTU %d, want 1280", m)
	}
	th.wantStats(map[Counter]uint64{ICMPv6RxError: 2})
	data := make([]byte, 1400)
	sent := th.recv(echo6(peerLL, hostLL, 1, data))
	for _, f := range sent {
		if len(f) > wire.EthHeaderLen+wire.IPv6MinMTU || parse6(t, f).frag == 0 {
			t.Errorf("reply frame of %d bytes, fragment header %d", len(f), parse6(t, f).frag)
		}
	}
	if len(sent) != 2 {
		t.Errorf("reply in %d frames", len(sent))
	}
	th.advance(pmtuLifetime)
	if m := th.h.PathMTU(peerLL); m != 1500 {
		t.Errorf("path MTU %d after %v", m, pmtuLifetime)
	}
}

// The transports' way out: sendIP picks the family by the destination,
// fragments what IPv6's path MTU cannot take, and reports what it could
// not send; unreachable6 is their port unreachable.
func TestSendIP(t *testing.T) {
	th := newHarness6(t)
	th.recv(nsFrom(peerLL, hostLL))
	th.recv(whoHas(hostIP))
	if src, ok := th.h.sourceAddr(peerLL); !ok || src != hostLL {
		t.Errorf("source for %v: %v %v", peerLL, src, ok)
	}
	if src, ok := th.h.sourceAddr(netip.MustParseAddr("::ffff:192.168.69.100")); !ok || src != hostIP {
		t.Errorf("source for a mapped IPv4 address: %v %v", src, ok)
	}
	payload := make([]byte, 3000)
	for i := range payload {
		payload[i] = byte(i)
	}
	th.out.Reset()
	if !th.h.sendIP(th.now, &th.out, netip.Addr{}, peerLL, wire.ProtoUDP, 0, 0xb8, payload) {
		t.Fatal("sendIP over IPv6 failed")
	}
	sent := th.sent()
	var got []byte
	for _, f := range sent {
		o := parse6(t, f)
		if o.frag == 0 || o.ip.TrafficClass != 0xb8 || o.ip.HopLimit != 64 || o.ip.Src != hostLL || len(f) > wire.EthHeaderLen+1500 {
			t.Fatalf("fragment %+v at %d", o.ip, o.frag)
		}
		got = append(got, o.raw[o.frag+wire.IPv6FragLen:wire.IPv6HeaderLen+int(o.raw.PayloadLen())]...)
	}
	if len(sent) != 3 || !bytes.Equal(got, payload) {
		t.Errorf("%d fragments carrying %d bytes", len(sent), len(got))
	}
	th.out.Reset()
	if !th.h.sendIP(th.now, &th.out, netip.Addr{}, peerIP, wire.ProtoUDP, 0, 0, payload[:100]) || len(th.sent()) != 1 {
		t.Errorf("sendIP over IPv4")
	}
	th.out.Reset()
	if !th.h.sendIP(th.now, &th.out, netip.Addr{}, peerIP, wire.ProtoUDP, 0, 0, payload[:1481]) || len(th.sent()) != 2 {
		t.Errorf("sendIP over IPv4, a datagram in fragments")
	}
	th.out.Reset()
	if th.h.sendIP(th.now, &th.out, netip.Addr{}, peerIP, wire.ProtoUDP, 0, 0, make([]byte, 0xffff)) ||
		th.h.sendIP(th.now, &th.out, netip.Addr{}, netip.MustParseAddr("10.9.9.9"), wire.ProtoUDP, 0, 0, payload[:10]) ||
		th.h.sendIP(th.now, &th.out, netip.Addr{}, netip.MustParseAddr("2001:db8:9::9"), wire.ProtoUDP, 0, 0, payload[:10]) {
		t.Errorf("sendIP sent what it could not: too big, or no route")
	}
	th.sent()
	// A UDP datagram to a port nobody has: the port unreachable.
	udp := frame6(hostMAC, peerMAC, peerLL, hostLL, wire.ProtoUDP, 64, make([]byte, 12))
	d := datagram6{pkt: udp[wire.EthHeaderLen : wire.EthHeaderLen+wire.IPv6HeaderLen+12], src: peerLL, dst: hostLL, off: wire.IPv6HeaderLen}
	th.out.Reset()
	th.h.unreachable6(th.now, &d, wire.ICMPv6PortUnreachable, &th.out)
	if u := only6(t, th.sent(), wire.ICMPv6DstUnreachable); len(u) != 1 || u[0].upper[1] != wire.ICMPv6PortUnreachable || u[0].ip.Dst != peerLL {
		t.Errorf("port unreachable: %+v", u)
	}
	off := newHarness(t)
	off.out.Reset()
	if off.h.sendIP(off.now, &off.out, netip.Addr{}, peerLL, wire.ProtoUDP, 0, 0, payload[:10]) {
		t.Errorf("sendIP over IPv6 while it is off")
	}
}

// A fragment header inside a reassembled datagram is refused, not
// reassembled again: each level would copy the datagram once more.
func TestIPv6NestedFragments(t *testing.T) {
	th := newHarness6(t)
	th.recv(nsFrom(peerLL, hostLL))
	m := wire.ICMPv6EchoRepr{Type: wire.ICMPv6EchoRequest, Ident: 9, Seq: 1, Data: make([]byte, 16)}.Append(nil, peerLL, hostLL)
	inner := append(wire.IPv6FragmentRepr{NextHeader: wire.ProtoICMPv6, Ident: 2}.Append(nil), m...) // atomic
	outer := append(wire.IPv6FragmentRepr{NextHeader: wire.ProtoFragment, Ident: 1}.Append(nil), inner...)
	if sent := th.recv(frame6(hostMAC, peerMAC, peerLL, hostLL, wire.ProtoFragment, 64, outer)); len(sent) != 0 {
		t.Errorf("answered a datagram in two fragment headers")
	}
	th.wantStats(map[Counter]uint64{IPv6RxBadHeader: 1})
}
