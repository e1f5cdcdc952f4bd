package wire_test

import (
	"bytes"
	"testing"

	"github.com/smolfs/smolfs/netcore/wire"
)

func FuzzICMP(f *testing.F) {
	for _, p := range etherPayloads(f, wire.EtherTypeIPv4) {
		if ip, err := wire.NewIPv4Packet(p); err == nil && ip.Protocol() == wire.ProtoICMP {
			f.Add(ip.Payload())
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := wire.NewICMPPacket(b); err == nil {
			_ = p.Data()
			_ = p.VerifyChecksum()
		}
		r, err := wire.ParseICMPEcho(b)
		if err != nil {
			return
		}
		// The checksum may come back as the other encoding of zero
		// (0x0000 for 0xffff), so it is compared by verifying it.
		enc := r.Append(nil)
		if len(enc) != len(b) || !bytes.Equal(enc[:2], b[:2]) || !bytes.Equal(enc[4:], b[4:]) || !wire.ICMPPacket(enc).VerifyChecksum() {
			t.Fatalf("Append = % x, want the parsed message % x", enc, b)
		}
		r2, err := wire.ParseICMPEcho(enc)
		if err != nil || r2.Type != r.Type || r2.Code != r.Code || r2.Ident != r.Ident || r2.Seq != r.Seq || !bytes.Equal(r2.Data, r.Data) {
			t.Fatalf("re-parse = %+v, %v; want %+v", r2, err, r)
		}
	})
}
