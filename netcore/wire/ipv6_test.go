package wire_test

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/smolfs/smolfs/netcore/wire"
	"github.com/smolfs/smolfs/netcore/wire/wiretest"
)

func FuzzIPv6(f *testing.F) {
	for _, p := range etherPayloads(f, wire.EtherTypeIPv6) {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := wire.NewIPv6Packet(b)
		if err != nil {
			return
		}
		r, err := wire.ParseIPv6(b)
		if err != nil {
			t.Fatalf("NewIPv6Packet accepted what ParseIPv6 refused: %v", err)
		}
		enc := r.Append(nil)
		if !bytes.Equal(enc, b[:wire.IPv6HeaderLen]) {
			t.Fatalf("Append = % x, want % x", enc, b[:wire.IPv6HeaderLen])
		}
		// Walk the extension headers as a host does: every length the
		// walk takes must stay inside the payload.
		nh, rest := p.NextHeader(), p.Payload()
		for wire.IsIPv6Extension(nh) {
			n, err := wire.IPv6ExtHeaderLen(nh, rest)
			if err != nil {
				break
			}
			if n > len(rest) {
				t.Fatalf("header of %d bytes in %d", n, len(rest))
			}
			switch nh {
			case wire.ProtoHopByHop, wire.ProtoDstOpts:
				it := wire.NewIPv6Options(rest[:n])
				for o, ok := it.Next(); ok; o, ok = it.Next() {
					if o.Off+2+len(o.Data) > n {
						t.Fatalf("option at %d of %d bytes runs past %d", o.Off, len(o.Data), n)
					}
				}
			case wire.ProtoFragment:
				fh, err := wire.NewIPv6FragmentHeader(rest)
				if err != nil {
					t.Fatal(err)
				}
				fr := wire.IPv6FragmentRepr{NextHeader: fh.NextHeader(), Offset: fh.Offset(), More: fh.More(), Ident: fh.Ident()}
				if got := fr.Append(nil); !bytes.Equal(got[2:], rest[2:8]) && rest[1] == 0 && rest[3]&6 == 0 {
					t.Fatalf("fragment header % x re-encoded as % x", rest[:8], got)
				}
			}
			nh, rest = wire.IPProtocol(rest[0]), rest[n:]
		}
	})
}

func TestIPv6RoundTrip(t *testing.T) {
	for _, r := range []wire.IPv6Repr{
		{Src: wiretest.IP6A, Dst: wiretest.IP6B, NextHeader: wire.ProtoICMPv6, HopLimit: 64, PayloadLen: 64},
		{Src: netip.IPv6Unspecified(), Dst: wire.IPv6AllMLDv2Routers, NextHeader: wire.ProtoHopByHop, HopLimit: 1, TrafficClass: 0xb8, FlowLabel: 0xfffff, PayloadLen: 0},
		{Src: wiretest.IP6B, Dst: netip.MustParseAddr("2001:db8::2"), NextHeader: 253, HopLimit: 255, FlowLabel: 0x12345, PayloadLen: 1460},
	} {
		b := append(r.Append(nil), make([]byte, r.PayloadLen)...)
		got, err := wire.ParseIPv6(b)
		if err != nil || got != r {
			t.Errorf("IPv6: %+v, %v; want %+v", got, err, r)
		}
	}
	fr := wire.IPv6FragmentRepr{NextHeader: wire.ProtoICMPv6, Offset: 1448, More: true, Ident: 0xdeadbeef}
	fh, err := wire.NewIPv6FragmentHeader(fr.Append(nil))
	if err != nil || fh.NextHeader() != fr.NextHeader || fh.Offset() != fr.Offset || fh.More() != fr.More || fh.Ident() != fr.Ident {
		t.Errorf("fragment header % x, %v; want %+v", fh, err, fr)
	}
}

func TestIPv6ViewsRejectShortAndMalformed(t *testing.T) {
	ip := wiretest.IPv6(wiretest.IP6A, wiretest.IP6B, 58, 64, make([]byte, 16))
	for n := 0; n < len(ip); n++ {
		if _, err := wire.NewIPv6Packet(ip[:n]); !errors.Is(err, wire.ErrTruncated) {
			t.Errorf("NewIPv6Packet(%d of %d bytes) = %v, want ErrTruncated", n, len(ip), err)
		}
	}
	v4 := bytes.Clone(ip)
	v4[0] = 0x45
	if _, err := wire.NewIPv6Packet(v4); !errors.Is(err, wire.ErrIPv6Version) {
		t.Errorf("version 4: %v", err)
	}
	for _, c := range []struct {
		nh   wire.IPProtocol
		b    []byte
		want int
		err  error
	}{
		{wire.ProtoHopByHop, []byte{58, 0, 1, 4, 0, 0, 0, 0}, 8, nil},
		{wire.ProtoHopByHop, []byte{58, 1, 1, 4, 0, 0, 0, 0}, 0, wire.ErrTruncated},
		{wire.ProtoDstOpts, []byte{58}, 0, wire.ErrTruncated},
		{wire.ProtoFragment, []byte{58, 0, 0, 0, 0, 0, 0}, 0, wire.ErrTruncated},
		{wire.ProtoAH, append([]byte{58, 1}, make([]byte, 10)...), 12, nil},
		{wire.ProtoESP, make([]byte, 16), 0, wire.ErrIPv6Ext},
	} {
		n, err := wire.IPv6ExtHeaderLen(c.nh, c.b)
		if n != c.want || !errors.Is(err, c.err) {
			t.Errorf("IPv6ExtHeaderLen(%d, % x) = %d, %v; want %d, %v", c.nh, c.b, n, err, c.want, c.err)
		}
	}
	// An option whose length runs past the header ends the walk with an
	// error; padding is skipped.
	it := wire.NewIPv6Options([]byte{58, 0, 0, 1, 0, 0x3e, 3, 0})
	if o, ok := it.Next(); ok || it.Err() == nil {
		t.Errorf("option past the end: %+v, %v, %v", o, ok, it.Err())
	}
	it = wire.NewIPv6Options([]byte{58, 0, wire.IPv6OptRouterAlert, 2, 0, 0, wire.IPv6OptPadN, 0})
	if o, ok := it.Next(); !ok || o.Type != wire.IPv6OptRouterAlert || o.Off != 2 || !bytes.Equal(o.Data, []byte{0, 0}) {
		t.Errorf("router alert: %+v, %v", o, ok)
	}
	if o, ok := it.Next(); ok || it.Err() != nil {
		t.Errorf("after the router alert: %+v, %v, %v", o, ok, it.Err())
	}
}

// The addresses RFC 4291 and RFC 2464 derive, checked against what the
// kernel made of 02:00:00:00:00:01 and 4a:49:58:75:94:f4 in the kernel frames.
func TestIPv6Addresses(t *testing.T) {
	for _, c := range []struct {
		mac  wire.MAC
		want string
	}{
		{wiretest.MACB, "fe80::ff:fe00:1"},
		{wiretest.MACA, "fe80::4849:58ff:fe75:94f4"},
	} {
		if got := wire.LinkLocal(c.mac); got != netip.MustParseAddr(c.want) {
			t.Errorf("LinkLocal(%v) = %v, want %s", c.mac, got, c.want)
		}
	}
	a := netip.MustParseAddr("2001:db8::4849:58ff:fe75:94f4")
	if got := wire.WithInterfaceID(netip.MustParsePrefix("2001:db8::/64"), wire.InterfaceID(wiretest.MACA)); got != a {
		t.Errorf("WithInterfaceID = %v, want %v", got, a)
	}
	sn := wire.SolicitedNodeMulticast(a)
	if sn != netip.MustParseAddr("ff02::1:ff75:94f4") || !wire.IsSolicitedNodeMulticast(sn) || wire.IsSolicitedNodeMulticast(a) || wire.IsSolicitedNodeMulticast(wire.IPv6AllNodes) {
		t.Errorf("solicited-node group of %v: %v", a, sn)
	}
	if m := wire.MulticastMAC(sn); m != (wire.MAC{0x33, 0x33, 0xff, 0x75, 0x94, 0xf4}) {
		t.Errorf("MulticastMAC(%v) = %v", sn, m)
	}
}

// The kernel's IPv6 frames parse, and their ICMPv6 checksums verify.
func TestIPv6OnKernelFrames(t *testing.T) {
	var kinds = map[wire.ICMPv6Type]int{}
	sawPrefix := false
	for _, c := range append(wiretest.Kernel(t), wiretest.Kernel6(t)...) {
		f, _ := wire.NewEthernetFrame(c.Frame)
		if f.Type() != wire.EtherTypeIPv6 {
			continue
		}
		p, err := wire.NewIPv6Packet(f.Payload())
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		nh, rest := p.NextHeader(), p.Payload()
		for wire.IsIPv6Extension(nh) {
			n, err := wire.IPv6ExtHeaderLen(nh, rest)
			if err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			if nh == wire.ProtoRouting && rest[wire.IPv6SegmentsLeftOff] > 0 {
				// The checksum's pseudo-header holds the final
				// destination, which the host never is: skip it.
				nh = wire.ProtoNoNext
				break
			}
			if nh == wire.ProtoFragment {
				if fh, _ := wire.NewIPv6FragmentHeader(rest); fh.Offset() != 0 || fh.More() {
					nh = wire.ProtoNoNext // a part of a message: nothing to check alone
					break
				}
			}
			nh, rest = wire.IPProtocol(rest[0]), rest[n:]
		}
		if nh != wire.ProtoICMPv6 {
			continue
		}
		m, err := wire.NewICMPv6Packet(rest)
		if err != nil || !m.VerifyChecksum(p.Src(), p.Dst()) {
			t.Errorf("%s: ICMPv6 %v, checksum wrong", c.Name, err)
			continue
		}
		kinds[m.Type()]++
		var perr error
		switch m.Type() {
		case wire.ICMPv6NeighSolicit:
			var ns wire.NDPNeighborSolicit
			ns, perr = wire.ParseNDPNeighborSolicit(rest, p.Src(), p.Dst())
			if perr == nil && p.Src().IsUnspecified() != ns.SourceLLA.IsZero() {
				t.Errorf("%s: NS from %v with source LLA %v", c.Name, p.Src(), ns.SourceLLA)
			}
		case wire.ICMPv6NeighAdvert:
			var na wire.NDPNeighborAdvert
			na, perr = wire.ParseNDPNeighborAdvert(rest, p.Src(), p.Dst())
			if perr == nil && (na.TargetLLA != f.Src() || !na.Solicited) {
				t.Errorf("%s: NA %+v", c.Name, na)
			}
		case wire.ICMPv6RouterSolicit:
			_, perr = wire.ParseNDPRouterSolicit(rest, p.Src(), p.Dst())
		case wire.ICMPv6RouterAdvert:
			var ra wire.NDPRouterAdvert
			ra, perr = wire.ParseNDPRouterAdvert(rest, p.Src(), p.Dst(), nil)
			for _, pi := range ra.Prefixes {
				if pi.Prefix == netip.MustParsePrefix("2001:db8:1::/64") && pi.Autonomous && pi.OnLink && pi.ValidLifetime == 3600 && pi.PreferredLifetime == 1800 {
					sawPrefix = true
				}
			}
			if perr == nil && (ra.SourceLLA != f.Src() || ra.MTU != 1500) {
				t.Errorf("%s: RA %+v", c.Name, ra)
			}
		case wire.ICMPv6DstUnreachable, wire.ICMPv6PacketTooBig, wire.ICMPv6TimeExceeded, wire.ICMPv6ParamProblem:
			var e wire.ICMPv6ErrorRepr
			e, perr = wire.ParseICMPv6Error(rest, p.Src(), p.Dst())
			// The quoted packet is one ns1 sent: its source is where the error goes.
			if perr == nil && (len(e.Invoking) < wire.IPv6HeaderLen || wire.IPv6Packet(e.Invoking).Src() != p.Dst()) {
				t.Errorf("%s: error quoting % x", c.Name, e.Invoking)
			}
		case wire.ICMPv6EchoRequest, wire.ICMPv6EchoReply:
			_, perr = wire.ParseICMPv6Echo(rest, p.Src(), p.Dst())
		case wire.ICMPv6MLDv2Report:
			var recs wire.MLDv2Records
			recs, perr = wire.ParseMLDv2Report(rest, p.Src(), p.Dst())
			n := 0
			for r, ok := recs.Next(); ok; r, ok = recs.Next() {
				if !r.Group.IsMulticast() {
					t.Errorf("%s: record for %v", c.Name, r.Group)
				}
				n++
			}
			if recs.Err() != nil || n == 0 {
				t.Errorf("%s: %d records, %v", c.Name, n, recs.Err())
			}
		}
		if perr != nil {
			t.Errorf("%s: %v: %v", c.Name, m.Type(), perr)
		}
	}
	if !sawPrefix {
		t.Error("no router advertisement with radvd's prefix")
	}
	for _, k := range []wire.ICMPv6Type{wire.ICMPv6NeighSolicit, wire.ICMPv6NeighAdvert, wire.ICMPv6RouterSolicit, wire.ICMPv6RouterAdvert,
		wire.ICMPv6EchoRequest, wire.ICMPv6EchoReply, wire.ICMPv6MLDv2Report, wire.ICMPv6DstUnreachable, wire.ICMPv6PacketTooBig,
		wire.ICMPv6TimeExceeded, wire.ICMPv6ParamProblem} {
		if kinds[k] == 0 {
			t.Errorf("no kernel frame of ICMPv6 type %d", k)
		}
	}
}
