package wire_test

import (
	"bytes"
	"testing"

	"github.com/smolfs/smolfs/netcore/wire"
)

func FuzzARP(f *testing.F) {
	for _, p := range etherPayloads(f, wire.EtherTypeARP) {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := wire.ParseARP(b)
		if err != nil {
			return
		}
		enc := r.Append(nil)
		if len(enc) != wire.ARPLen || !bytes.Equal(enc, b[:wire.ARPLen]) {
			t.Fatalf("Append = % x, want the parsed packet % x", enc, b[:wire.ARPLen])
		}
		r2, err := wire.ParseARP(enc)
		if err != nil || r2 != r {
			t.Fatalf("re-parse = %+v, %v; want %+v", r2, err, r)
		}
	})
}
