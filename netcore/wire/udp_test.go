package wire_test

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/smolfs/smolfs/netcore/wire"
)

var (
	udpSrc = netip.MustParseAddr("192.168.69.100")
	udpDst = netip.MustParseAddr("192.168.69.1")
)

// A datagram the kernel sent from 192.168.69.100 port 40000 to
// 192.168.69.1 port 7, read from the other end of a tap (which, unlike a
// veth, gets the checksum whole rather than left to an offload): the
// checksum is the kernel's.
var kernelUDP = []byte{
	0x9c, 0x40, 0x00, 0x07, 0x00, 0x0e, 0x13, 0xf8,
	'h', 'e', 'l', 'l', 'o', '\n',
}

func TestUDPChecksum(t *testing.T) {
	// What the kernel computed, we compute.
	d := bytes.Clone(kernelUDP)
	want := binary.BigEndian.Uint16(d[wire.UDPChecksumOff:])
	wire.SetUDPChecksum(d, udpSrc, udpDst)
	if got := binary.BigEndian.Uint16(d[wire.UDPChecksumOff:]); got != want {
		t.Errorf("checksum %#04x, the kernel's %#04x", got, want)
	}
	r, err := wire.ParseUDP(kernelUDP, udpSrc, udpDst)
	if err != nil || r.SrcPort != 40000 || r.DstPort != 7 || string(r.Payload) != "hello\n" {
		t.Fatalf("ParseUDP = %+v, %v", r, err)
	}
	if _, err := wire.ParseUDP(kernelUDP, udpSrc, netip.MustParseAddr("192.168.69.2")); err != wire.ErrUDPChecksum {
		t.Errorf("another destination: %v, want ErrUDPChecksum", err)
	}
	// No checksum is fine over IPv4, not over IPv6.
	d[6], d[7] = 0, 0
	if _, err := wire.ParseUDP(d, udpSrc, udpDst); err != nil {
		t.Errorf("checksum 0 over IPv4: %v", err)
	}
	if wire.UDPPacket(d).VerifyChecksum(netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")) {
		t.Error("checksum 0 accepted over IPv6")
	}
	// A sum of 0 is sent as 0xffff.
	for i := range 0x10000 {
		r := wire.UDPRepr{SrcPort: 1, DstPort: 2, Payload: []byte{byte(i >> 8), byte(i)}}
		b := r.Append(nil, udpSrc, udpDst)
		if c := wire.UDPPacket(b).Checksum(); c == 0 {
			t.Fatalf("payload %#04x: checksum sent as 0", i)
		} else if c == 0xffff {
			if _, err := wire.ParseUDP(b, udpSrc, udpDst); err != nil {
				t.Fatalf("checksum 0xffff does not verify: %v", err)
			}
			return
		}
	}
	t.Error("no payload gave a checksum of 0xffff")
}

func TestUDPLength(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		err  error
	}{
		{"short", kernelUDP[:7], wire.ErrTruncated},
		{"length beyond", append(bytes.Clone(kernelUDP[:8]), 'x'), wire.ErrUDPLength},
		{"length short", append(bytes.Clone(kernelUDP), 'x'), wire.ErrUDPLength},
	} {
		if _, err := wire.NewUDPPacket(tc.b); err != tc.err {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
	}
}

func FuzzUDP(f *testing.F) {
	f.Add(kernelUDP, true)
	f.Add([]byte{0, 1, 0, 2, 0, 8, 0, 0}, false)
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		src, dst := udpSrc, udpDst
		if v6 {
			src, dst = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("fe80::2")
		}
		p, err := wire.NewUDPPacket(b)
		if err != nil {
			return
		}
		if len(p.Payload())+wire.UDPHeaderLen != int(p.Length()) {
			t.Fatalf("payload %d bytes, length %d", len(p.Payload()), p.Length())
		}
		r, err := wire.ParseUDP(b, src, dst)
		if err != nil {
			return
		}
		enc := r.Append(nil, src, dst)
		r2, err := wire.ParseUDP(enc, src, dst)
		if err != nil {
			t.Fatalf("re-parse of % x: %v", enc, err)
		}
		if r2.SrcPort != r.SrcPort || r2.DstPort != r.DstPort || !bytes.Equal(r2.Payload, r.Payload) {
			t.Fatalf("re-parse = %+v, want %+v", r2, r)
		}
		if c := p.Checksum(); c != 0 && !bytes.Equal(enc, b) {
			t.Fatalf("a datagram with a good checksum encodes differently:\n% x\n% x", b, enc)
		}
	})
}
