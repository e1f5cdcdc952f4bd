package wire_test

import (
	"testing"

	"github.com/smolfs/smolfs/netcore/wire"
)

func FuzzIPv4(f *testing.F) {
	for _, p := range etherPayloads(f, wire.EtherTypeIPv4) {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := wire.NewIPv4Packet(b)
		if err != nil {
			return
		}
		// The view's accessors must stay inside what it checked.
		_ = p.Payload()
		_ = p.IsFragment()
		r, err := wire.ParseIPv4(b)
		if err != nil {
			return
		}
		if r.PayloadLen != len(p.Payload()) {
			t.Fatalf("PayloadLen %d, payload %d bytes", r.PayloadLen, len(p.Payload()))
		}
		enc := append(r.Append(nil), p.Payload()...)
		r2, err := wire.ParseIPv4(enc)
		if err != nil {
			t.Fatalf("re-parse of % x: %v", enc, err)
		}
		if r2 != r {
			t.Fatalf("re-parse = %+v, want %+v", r2, r)
		}
	})
}
