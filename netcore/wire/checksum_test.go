package wire_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/smolfs/smolfs/netcore/wire"
	"github.com/smolfs/smolfs/netcore/wire/wiretest"
)

// RFC 1071 section 3's worked example and the edge cases of the fold.
func TestChecksum(t *testing.T) {
	for _, c := range []struct {
		name string
		b    []byte
		want uint16
	}{
		{"RFC 1071 example", []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}, ^uint16(0xddf2)},
		{"empty", nil, 0xffff},
		{"zeros", make([]byte, 20), 0xffff},
		{"odd length pads with zero", []byte{0x01}, ^uint16(0x0100)},
		{"carry folds", []byte{0xff, 0xff, 0x00, 0x01}, ^uint16(0x0001)},
		{"many carries", bytes.Repeat([]byte{0xff}, 1001), ^uint16(0xff00)},
		// RFC 1071 1.2 (B): the sum is the same in either byte order.
		{"unaligned tail", []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7, 0x12, 0x34, 0x56}, ^uint16(0xddf2 + 0x1234 + 0x5600 - 0xffff)},
	} {
		if got := wire.Checksum(c.b); got != c.want {
			t.Errorf("%s: %#04x, want %#04x", c.name, got, c.want)
		}
	}
	// Over data that carries its checksum, the checksum is zero: the
	// receiver's check.
	h := wire.IPv4Repr{Src: wiretest.IPA, Dst: wiretest.IPB, Protocol: wire.ProtoUDP, TTL: 64, PayloadLen: 8}.Append(nil)
	if wire.Checksum(h) != 0 {
		t.Errorf("checksum over a header with its checksum: %#04x", wire.Checksum(h))
	}
	// A header the kernel wrote.
	kernel := wiretest.Kernel(t)
	for _, c := range kernel {
		if p, err := wire.NewIPv4Packet(c.Frame[wire.EthHeaderLen:]); err == nil && binary.BigEndian.Uint16(c.Frame[12:]) == 0x0800 && !p.VerifyChecksum() {
			t.Errorf("%s: the kernel's IPv4 checksum does not verify", c.Name)
		}
	}
}
