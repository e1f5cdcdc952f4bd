package wire_test

import (
	"bytes"
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/smolfs/smolfs/netcore/wire"
	"github.com/smolfs/smolfs/netcore/wire/wiretest"
)

func FuzzNDP(f *testing.F) {
	icmpv6Seeds(f)
	src, dst := wiretest.IP6A, wiretest.IP6B
	ra := wire.NDPRouterAdvert{CurHopLimit: 64, Managed: true, Lifetime: 1800, ReachableTime: 30000, RetransTimer: 1000, SourceLLA: wiretest.MACA, MTU: 1500,
		Prefixes: []wire.NDPPrefixInfo{{Prefix: netip.MustParsePrefix("2001:db8::/64"), OnLink: true, Autonomous: true, ValidLifetime: 86400, PreferredLifetime: 14400}}}
	s, d := src.As16(), dst.As16()
	f.Add(s[:], d[:], ra.Append(nil, src, dst))
	f.Fuzz(func(t *testing.T, sb, db, b []byte) {
		src, dst, ok := addrs(sb, db)
		if !ok {
			return
		}
		// Random checksums would stop nearly every input at the first
		// check: most runs get a right one, to reach the parsers' rules.
		if len(b) >= 4 && b[len(b)-1]&7 != 0 {
			wire.SetICMPv6Checksum(b, src, dst)
		}
		if r, err := wire.ParseNDPNeighborSolicit(b, src, dst); err == nil {
			if r.Target.IsMulticast() {
				t.Fatalf("NS for %v accepted", r.Target)
			}
			got, err := wire.ParseNDPNeighborSolicit(r.Append(nil, src, dst), src, dst)
			if err != nil || got.Target != r.Target || got.SourceLLA != r.SourceLLA || !bytes.Equal(got.Nonce, r.Nonce) {
				t.Fatalf("NS %+v re-parsed as %+v, %v", r, got, err)
			}
		}
		if r, err := wire.ParseNDPNeighborAdvert(b, src, dst); err == nil {
			got, err := wire.ParseNDPNeighborAdvert(r.Append(nil, src, dst), src, dst)
			if err != nil || got != r {
				t.Fatalf("NA %+v re-parsed as %+v, %v", r, got, err)
			}
		}
		if r, err := wire.ParseNDPRouterSolicit(b, src, dst); err == nil {
			got, err := wire.ParseNDPRouterSolicit(r.Append(nil, src, dst), src, dst)
			if err != nil || got != r {
				t.Fatalf("RS %+v re-parsed as %+v, %v", r, got, err)
			}
		}
		if r, err := wire.ParseNDPRouterAdvert(b, src, dst, nil); err == nil {
			got, err := wire.ParseNDPRouterAdvert(r.Append(nil, src, dst), src, dst, nil)
			if err != nil || !sameRA(got, r) {
				t.Fatalf("RA %+v re-parsed as %+v, %v", r, got, err)
			}
		}
		it := wire.NewNDPOptions(b)
		for o, ok := it.Next(); ok; o, ok = it.Next() {
			if (len(o.Data)+2)%8 != 0 {
				t.Fatalf("option of %d bytes", len(o.Data)+2)
			}
		}
	})
}

func sameRA(a, b wire.NDPRouterAdvert) bool {
	return a.CurHopLimit == b.CurHopLimit && a.Managed == b.Managed && a.Other == b.Other &&
		a.Lifetime == b.Lifetime && a.ReachableTime == b.ReachableTime && a.RetransTimer == b.RetransTimer &&
		a.SourceLLA == b.SourceLLA && a.MTU == b.MTU && slices.Equal(a.Prefixes, b.Prefixes)
}

func TestNDPRoundTrip(t *testing.T) {
	src, dst := wiretest.IP6A, wiretest.IP6B
	for _, r := range []wire.NDPNeighborSolicit{
		{Target: dst, SourceLLA: wiretest.MACA},
		{Target: dst},
		{Target: dst, Nonce: []byte{1, 2, 3, 4, 5, 6}},
	} {
		b := r.Append(nil, src, wire.SolicitedNodeMulticast(dst))
		if len(b) != r.Len() {
			t.Errorf("NS Len %d, encoded %d bytes", r.Len(), len(b))
		}
		got, err := wire.ParseNDPNeighborSolicit(b, src, wire.SolicitedNodeMulticast(dst))
		if err != nil || got.Target != r.Target || got.SourceLLA != r.SourceLLA || !bytes.Equal(got.Nonce, r.Nonce) {
			t.Errorf("NS: %+v, %v; want %+v", got, err, r)
		}
	}
	for _, r := range []wire.NDPNeighborAdvert{
		{Solicited: true, Override: true, Target: dst, TargetLLA: wiretest.MACB},
		{Router: true, Target: dst},
	} {
		b := r.Append(nil, dst, src)
		if len(b) != r.Len() {
			t.Errorf("NA Len %d, encoded %d bytes", r.Len(), len(b))
		}
		if got, err := wire.ParseNDPNeighborAdvert(b, dst, src); err != nil || got != r {
			t.Errorf("NA: %+v, %v; want %+v", got, err, r)
		}
	}
	rs := wire.NDPRouterSolicit{SourceLLA: wiretest.MACB}
	if got, err := wire.ParseNDPRouterSolicit(rs.Append(nil, dst, wire.IPv6AllRouters), dst, wire.IPv6AllRouters); err != nil || got != rs || rs.Len() != 16 {
		t.Errorf("RS: %+v, %v", got, err)
	}
	ra := wire.NDPRouterAdvert{CurHopLimit: 64, Other: true, Lifetime: 1800, SourceLLA: wiretest.MACA, MTU: 1480,
		Prefixes: []wire.NDPPrefixInfo{
			{Prefix: netip.MustParsePrefix("2001:db8:1::/64"), OnLink: true, Autonomous: true, ValidLifetime: wire.NDPInfiniteLifetime, PreferredLifetime: 600},
			{Prefix: netip.MustParsePrefix("2001:db8:2::/48"), OnLink: true},
		}}
	got, err := wire.ParseNDPRouterAdvert(ra.Append(nil, src, wire.IPv6AllNodes), src, wire.IPv6AllNodes, make([]wire.NDPPrefixInfo, 0, 4))
	if err != nil || !sameRA(got, ra) {
		t.Errorf("RA: %+v, %v; want %+v", got, err, ra)
	}
}

func TestNDPInvalid(t *testing.T) {
	src, dst := wiretest.IP6A, wiretest.IP6B
	sn := wire.SolicitedNodeMulticast(dst)
	ns := wire.NDPNeighborSolicit{Target: dst, SourceLLA: wiretest.MACA}.Append(nil, src, sn)
	for _, c := range []struct {
		name string
		fn   func(b []byte) []byte
		want error
	}{
		{"code 1", func(b []byte) []byte { b[1] = 1; return b }, wire.ErrNDPInvalid},
		{"multicast target", func(b []byte) []byte { copy(b[8:], wiretest.Addr16("ff02::1")); return b }, wire.ErrNDPInvalid},
		{"option length 0", func(b []byte) []byte { b[25] = 0; return b }, wire.ErrNDPInvalid},
		{"option past the end", func(b []byte) []byte { b[25] = 2; return b }, wire.ErrNDPInvalid},
		{"short", func(b []byte) []byte { return b[:20] }, wire.ErrNDPInvalid},
		{"bad checksum", func(b []byte) []byte { b[30] ^= 1; return b }, wire.ErrICMPv6Checksum},
	} {
		b := c.fn(bytes.Clone(ns))
		if c.want != wire.ErrICMPv6Checksum {
			wire.SetICMPv6Checksum(b, src, sn)
		}
		if _, err := wire.ParseNDPNeighborSolicit(b, src, sn); !errors.Is(err, c.want) {
			t.Errorf("NS %s: %v, want %v", c.name, err, c.want)
		}
	}
	na := wire.NDPNeighborAdvert{Solicited: true, Target: dst}.Append(nil, dst, wire.IPv6AllNodes)
	if _, err := wire.ParseNDPNeighborAdvert(na, dst, wire.IPv6AllNodes); !errors.Is(err, wire.ErrNDPInvalid) {
		t.Errorf("solicited NA to all-nodes: %v", err)
	}
	ra := wire.NDPRouterAdvert{Prefixes: []wire.NDPPrefixInfo{{Prefix: netip.MustParsePrefix("2001:db8::/64")}}}.Append(nil, src, wire.IPv6AllNodes)
	ra[wire.NDPRALen+wire.NDPPrefixLenOff] = 129
	wire.SetICMPv6Checksum(ra, src, wire.IPv6AllNodes)
	if _, err := wire.ParseNDPRouterAdvert(ra, src, wire.IPv6AllNodes, nil); !errors.Is(err, wire.ErrNDPInvalid) {
		t.Errorf("RA with a /129 prefix: %v", err)
	}
}
