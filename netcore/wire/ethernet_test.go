package wire_test

import (
	"bytes"
	"testing"

	"github.com/smolfs/smolfs/netcore/wire"
	"github.com/smolfs/smolfs/netcore/wire/wiretest"
)

func FuzzEthernet(f *testing.F) {
	for _, fr := range wiretest.Frames(f) {
		f.Add(fr)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := wire.ParseEthernet(b)
		if err != nil {
			if len(b) >= wire.EthHeaderLen {
				t.Fatalf("ParseEthernet rejected %d bytes: %v", len(b), err)
			}
			return
		}
		enc := r.Append(nil)
		if !bytes.Equal(enc, b[:wire.EthHeaderLen]) {
			t.Fatalf("Append = % x, want the parsed header % x", enc, b[:wire.EthHeaderLen])
		}
		r2, err := wire.ParseEthernet(enc)
		if err != nil || r2 != r {
			t.Fatalf("re-parse = %+v, %v; want %+v", r2, err, r)
		}
	})
}
