package wire_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/smolfs/smolfs/netcore/wire"
	"github.com/smolfs/smolfs/netcore/wire/wiretest"
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

func TestICMPError(t *testing.T) {
	dgram := wiretest.IPv4(wiretest.IPA, wiretest.IPB, wire.ProtoUDP, wiretest.UDP(40000, 9, []byte("hello")))
	r := wire.ICMPErrorRepr{Type: wire.ICMPDestUnreachable, Code: wire.ICMPPortUnreachable, Quote: dgram}
	b := r.Append(nil)
	if len(b) != r.Len() || !wire.ICMPPacket(b).VerifyChecksum() {
		t.Fatalf("Append = % x", b)
	}
	got, err := wire.ParseICMPError(b)
	if err != nil || got.Type != r.Type || got.Code != r.Code || got.Param != 0 || !bytes.Equal(got.Quote, dgram) {
		t.Fatalf("ParseICMPError = %+v, %v", got, err)
	}
	hdr, rest, err := wire.QuotedIPv4(got.Quote)
	if err != nil || hdr.Dst() != wiretest.IPB || hdr.Protocol() != wire.ProtoUDP || len(rest) != 13 {
		t.Fatalf("QuotedIPv4 = % x, % x, %v", hdr, rest, err)
	}
	for n := 0; n < 28; n++ {
		short := wire.ICMPErrorRepr{Type: wire.ICMPTimeExceeded, Code: 1, Quote: dgram[:n]}.Append(nil)
		if _, err := wire.ParseICMPError(short); !errors.Is(err, wire.ErrICMPQuote) {
			t.Errorf("quote of %d bytes: %v, want ErrICMPQuote", n, err)
		}
	}
	echo := wiretest.ICMPEcho(wire.ICMPEchoRequest, 1, 1, 8)
	if _, err := wire.ParseICMPError(echo); !errors.Is(err, wire.ErrNotICMPError) {
		t.Errorf("echo request: %v, want ErrNotICMPError", err)
	}
	b[len(b)-1] ^= 1
	if _, err := wire.ParseICMPError(b); !errors.Is(err, wire.ErrICMPChecksum) {
		t.Errorf("flipped bit: %v, want ErrICMPChecksum", err)
	}
}

func FuzzICMPError(f *testing.F) {
	for _, p := range etherPayloads(f, wire.EtherTypeIPv4) {
		if ip, err := wire.NewIPv4Packet(p); err == nil && ip.Protocol() == wire.ProtoICMP {
			f.Add(ip.Payload())
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := wire.ParseICMPError(b)
		if err != nil {
			return
		}
		hdr, rest, err := wire.QuotedIPv4(r.Quote)
		if err != nil {
			t.Fatalf("ParseICMPError accepted a quote QuotedIPv4 refuses: %v", err)
		}
		_, _, _, _ = hdr.Src(), hdr.Dst(), hdr.Protocol(), hdr.ID()
		if len(hdr)+len(rest) != len(r.Quote) || len(rest) < 8 {
			t.Fatalf("quote split %d+%d of %d", len(hdr), len(rest), len(r.Quote))
		}
		enc := r.Append(nil)
		if len(enc) != len(b) || !bytes.Equal(enc[:2], b[:2]) || !bytes.Equal(enc[4:], b[4:]) || !wire.ICMPPacket(enc).VerifyChecksum() {
			t.Fatalf("Append = % x, want % x", enc, b)
		}
	})
}
