package wire_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
	"github.com/smolfs/smolfs/netcore/wire/wiretest"
)

func FuzzMLD(f *testing.F) {
	icmpv6Seeds(f)
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
		if q, err := wire.ParseMLDQuery(b, src, dst); err == nil && q.MaxResp < 0 {
			t.Fatalf("query %+v", q)
		}
		recs, err := wire.ParseMLDv2Report(b, src, dst)
		if err != nil {
			return
		}
		var all []wire.MLDv2Record
		for r, ok := recs.Next(); ok; r, ok = recs.Next() {
			all = append(all, r)
		}
		if recs.Err() != nil {
			return
		}
		re, err := wire.ParseMLDv2Report(wire.AppendMLDv2Report(nil, all, src, dst), src, dst)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ {
			r, ok := re.Next()
			if !ok {
				if i != len(all) {
					t.Fatalf("%d records re-parsed as %d", len(all), i)
				}
				break
			}
			if r != all[i] {
				t.Fatalf("record %d: %+v re-parsed as %+v", i, all[i], r)
			}
		}
	})
}

func TestMLD(t *testing.T) {
	src := wiretest.IP6B
	groups := []wire.MLDv2Record{
		{Type: wire.MLDChangeToExclude, Group: wire.SolicitedNodeMulticast(src)},
		{Type: wire.MLDChangeToExclude, Group: netip.MustParseAddr("ff02::1:ff00:2")},
	}
	b := wire.AppendMLDv2Report(nil, groups, src, wire.IPv6AllMLDv2Routers)
	if len(b) != wire.MLDv2ReportLenFor(2) {
		t.Errorf("report of 2 records: %d bytes", len(b))
	}
	recs, err := wire.ParseMLDv2Report(b, src, wire.IPv6AllMLDv2Routers)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		r, ok := recs.Next()
		if !ok {
			if i != 2 || recs.Err() != nil {
				t.Errorf("%d records, %v", i, recs.Err())
			}
			break
		}
		if r != groups[i] {
			t.Errorf("record %d: %+v, want %+v", i, r, groups[i])
		}
	}

	// Queries: 24 bytes is version 1, 28 and more version 2.
	q1 := wiretest.Cat([]byte{130, 0, 0, 0}, wiretest.BE16(10000), []byte{0, 0}, make([]byte, 16))
	wire.SetICMPv6Checksum(q1, wiretest.IP6A, wire.IPv6AllNodes)
	if q, err := wire.ParseMLDQuery(q1, wiretest.IP6A, wire.IPv6AllNodes); err != nil || q.V2 || q.MaxResp != 10*time.Second || !q.Group.IsUnspecified() {
		t.Errorf("v1 general query: %+v, %v", q, err)
	}
	q2 := wiretest.Cat([]byte{130, 0, 0, 0}, wiretest.BE16(0x8001), []byte{0, 0}, wiretest.Addr16("ff02::1:ff00:1"), []byte{2, 125, 0, 0})
	wire.SetICMPv6Checksum(q2, wiretest.IP6A, wire.IPv6AllNodes)
	if q, err := wire.ParseMLDQuery(q2, wiretest.IP6A, wire.IPv6AllNodes); err != nil || !q.V2 || q.MaxResp != time.Duration((0x1001)<<3)*time.Millisecond || q.Group != netip.MustParseAddr("ff02::1:ff00:1") {
		t.Errorf("v2 group query: %+v, %v", q, err)
	}
	if _, err := wire.ParseMLDQuery(q2[:26], wiretest.IP6A, wire.IPv6AllNodes); err == nil {
		t.Error("26-byte query accepted")
	}
}
