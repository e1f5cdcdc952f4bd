package wire_test

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/smolfs/smolfs/netcore/wire"
	"github.com/smolfs/smolfs/netcore/wire/wiretest"
)

// icmpv6Seeds are the ICMPv6 messages of the seed frames with their
// addresses, extension headers skipped.
func icmpv6Seeds(f *testing.F) {
	for _, p := range etherPayloads(f, wire.EtherTypeIPv6) {
		ip, err := wire.NewIPv6Packet(p)
		if err != nil {
			continue
		}
		nh, rest := ip.NextHeader(), ip.Payload()
		for wire.IsIPv6Extension(nh) {
			n, err := wire.IPv6ExtHeaderLen(nh, rest)
			if err != nil {
				break
			}
			nh, rest = wire.IPProtocol(rest[0]), rest[n:]
		}
		if nh == wire.ProtoICMPv6 {
			s, d := ip.Src().As16(), ip.Dst().As16()
			f.Add(s[:], d[:], rest)
		}
	}
}

func addrs(s, d []byte) (netip.Addr, netip.Addr, bool) {
	if len(s) != 16 || len(d) != 16 {
		return netip.Addr{}, netip.Addr{}, false
	}
	return netip.AddrFrom16([16]byte(s)), netip.AddrFrom16([16]byte(d)), true
}

func FuzzICMPv6(f *testing.F) {
	icmpv6Seeds(f)
	f.Fuzz(func(t *testing.T, sb, db, b []byte) {
		src, dst, ok := addrs(sb, db)
		if !ok {
			return
		}
		if p, err := wire.NewICMPv6Packet(b); err == nil {
			_, _, _ = p.Word(), p.Body(), p.VerifyChecksum(src, dst)
		}
		if r, err := wire.ParseICMPv6Echo(b, src, dst); err == nil {
			enc := r.Append(nil, src, dst)
			if !bytes.Equal(enc[:2], b[:2]) || !bytes.Equal(enc[4:], b[4:]) || !wire.ICMPv6Packet(enc).VerifyChecksum(src, dst) {
				t.Fatalf("echo Append = % x, want % x", enc, b)
			}
		}
		if r, err := wire.ParseICMPv6Error(b, src, dst); err == nil {
			enc := r.Append(nil, src, dst)
			if len(b) <= wire.ICMPv6MaxError && (!bytes.Equal(enc[:2], b[:2]) || !bytes.Equal(enc[4:], b[4:])) {
				t.Fatalf("error Append = % x, want % x", enc, b)
			}
			if len(enc) > wire.ICMPv6MaxError || !wire.ICMPv6Packet(enc).VerifyChecksum(src, dst) {
				t.Fatalf("error Append: %d bytes, checksum wrong", len(enc))
			}
		}
	})
}

func TestICMPv6RoundTrip(t *testing.T) {
	src, dst := wiretest.IP6A, wiretest.IP6B
	for _, r := range []wire.ICMPv6EchoRepr{
		{Type: wire.ICMPv6EchoRequest, Ident: 17, Seq: 1, Data: []byte("0123456789abcdef")},
		{Type: wire.ICMPv6EchoReply, Ident: 65535, Data: []byte{}},
		{Type: wire.ICMPv6EchoReply, Ident: 1, Seq: 2, Data: []byte{0xff}},
	} {
		b := r.Append(nil, src, dst)
		if len(b) != r.Len() {
			t.Errorf("echo Len %d, encoded %d bytes", r.Len(), len(b))
		}
		got, err := wire.ParseICMPv6Echo(b, src, dst)
		if err != nil || got.Type != r.Type || got.Ident != r.Ident || got.Seq != r.Seq || !bytes.Equal(got.Data, r.Data) {
			t.Errorf("echo: %+v, %v; want %+v", got, err, r)
		}
		// The pseudo-header counts: the same bytes from another source fail.
		if _, err := wire.ParseICMPv6Echo(b, netip.MustParseAddr("fe80::2"), dst); !errors.Is(err, wire.ErrICMPv6Checksum) {
			t.Errorf("echo from another source: %v, want ErrICMPv6Checksum", err)
		}
	}
	big := make([]byte, 1500)
	e := wire.ICMPv6ErrorRepr{Type: wire.ICMPv6PacketTooBig, Param: 1280, Invoking: big}
	b := e.Append(nil, src, dst)
	if len(b) != wire.ICMPv6MaxError || e.Len() != len(b) {
		t.Errorf("packet too big quoting 1500 bytes: %d bytes, Len %d, want %d", len(b), e.Len(), wire.ICMPv6MaxError)
	}
	got, err := wire.ParseICMPv6Error(b, src, dst)
	if err != nil || got.Type != e.Type || got.Param != 1280 || len(got.Invoking) != wire.ICMPv6MaxError-8 {
		t.Errorf("packet too big: %+v, %v", got, err)
	}
	if _, err := wire.ParseICMPv6Error(wire.ICMPv6EchoRepr{Type: wire.ICMPv6EchoRequest}.Append(nil, src, dst), src, dst); err == nil {
		t.Error("an echo request parsed as an error message")
	}
	for n := range 4 {
		if _, err := wire.NewICMPv6Packet(b[:n]); !errors.Is(err, wire.ErrTruncated) {
			t.Errorf("NewICMPv6Packet(%d bytes) = %v", n, err)
		}
	}
	if _, err := wire.ParseICMPv6Echo(b[:6], src, dst); err == nil {
		t.Error("6-byte message parsed as echo")
	}
}
