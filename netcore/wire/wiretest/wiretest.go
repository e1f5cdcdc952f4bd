// Package wiretest builds frames for tests and holds the golden frame table:
// hand-built frames of every kind the tcpdump renderer knows, and frames the
// kernel sent (testdata/kernel-frames.cap). The wire, tcpdump, capture and
// netcore tests share it, as net/http's tests share httptest. It also runs
// the judge: the installed tcpdump, on a capture file of cases.
package wiretest

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/smolfs/smolfs/netcore/wire"
)

// Case is one frame of the golden table.
type Case struct {
	Name    string
	Frame   []byte
	WireLen int // 0: len(Frame)
	Time    time.Time
}

// The two stations of the table (and of most tests): A is the kernel's
// side, B the smolfs host's (smoltcp's 02:00:00:00:00:01, 192.168.69.1).
var (
	MACA  = wire.MAC{0x4a, 0x49, 0x58, 0x75, 0x94, 0xf4}
	MACB  = wire.MAC{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	IPA   = netip.MustParseAddr("192.168.69.100")
	IPB   = netip.MustParseAddr("192.168.69.1")
	IP6A  = netip.MustParseAddr("fe80::4849:58ff:fe75:94f4")
	IP6B  = netip.MustParseAddr("fe80::1")
	TBase = time.Unix(1764000000, 123456789)
)

// Frame builders. They use package wire's encoders where there are some
// and write the other headers by hand.

// Eth is an Ethernet II frame.
func Eth(dst, src wire.MAC, typ wire.EtherType, payload []byte) []byte {
	b := wire.EthernetRepr{Dst: dst, Src: src, Type: typ}.Append(nil)
	return append(b, payload...)
}

// ARP is an IPv4-over-Ethernet ARP packet.
func ARP(op wire.ARPOp, sha wire.MAC, spa netip.Addr, tha wire.MAC, tpa netip.Addr) []byte {
	return wire.ARPRepr{Op: op, SenderMAC: sha, SenderIP: spa, TargetMAC: tha, TargetIP: tpa}.Append(nil)
}

// IPv4 is an IPv4 packet: TTL 64, ID 0x1234, DF, no options.
func IPv4(src, dst netip.Addr, proto wire.IPProtocol, payload []byte) []byte {
	b := wire.IPv4Repr{Src: src, Dst: dst, Protocol: proto, TTL: 64, ID: 0x1234, DF: true, PayloadLen: len(payload)}.Append(nil)
	return append(b, payload...)
}

// WithIPv4 rewrites fields of a copy of an IPv4 packet built by IPv4 and
// fixes the checksum unless keepSum.
func WithIPv4(p []byte, fn func(h []byte), keepSum bool) []byte {
	p = bytes.Clone(p)
	fn(p)
	if !keepSum {
		hl := int(p[0]&0x0f) * 4
		if hl > len(p) {
			hl = len(p)
		}
		p[10], p[11] = 0, 0
		binary.BigEndian.PutUint16(p[10:], wire.Checksum(p[:hl]))
	}
	return p
}

// ICMPEcho is an echo message with n bytes of data 0x10, 0x11, ...
func ICMPEcho(typ wire.ICMPType, id, seq uint16, n int) []byte {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(0x10 + i)
	}
	return wire.ICMPEchoRepr{Type: typ, Ident: id, Seq: seq, Data: data}.Append(nil)
}

// ICMP is an ICMPv4 message with its checksum: type, code, the 4 bytes
// after the checksum, the body.
func ICMP(typ, code uint8, rest [4]byte, body []byte) []byte {
	b := append([]byte{typ, code, 0, 0}, rest[:]...)
	b = append(b, body...)
	binary.BigEndian.PutUint16(b[2:], wire.Checksum(b))
	return b
}

// UDP is a UDP datagram with a zero checksum.
func UDP(sport, dport uint16, payload []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	b = binary.BigEndian.AppendUint16(b, uint16(8+len(payload)))
	b = append(b, 0, 0)
	return append(b, payload...)
}

// TCP is a TCP segment with a zero checksum; opts is padded to 4 bytes.
func TCP(sport, dport uint16, seq, ack uint32, flags uint8, win uint16, opts, payload []byte) []byte {
	for len(opts)%4 != 0 {
		opts = append(opts, 0)
	}
	b := binary.BigEndian.AppendUint16(nil, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	b = binary.BigEndian.AppendUint32(b, seq)
	b = binary.BigEndian.AppendUint32(b, ack)
	b = append(b, byte((20+len(opts))/4)<<4, flags)
	b = binary.BigEndian.AppendUint16(b, win)
	b = append(b, 0, 0, 0, 0)
	b = append(b, opts...)
	return append(b, payload...)
}

// IPv6 is an IPv6 packet with next header nh.
func IPv6(src, dst netip.Addr, nh uint8, hlim uint8, payload []byte) []byte {
	b := []byte{0x60, 0, 0, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(len(payload)))
	b = append(b, nh, hlim)
	s, d := src.As16(), dst.As16()
	b = append(b, s[:]...)
	b = append(b, d[:]...)
	return append(b, payload...)
}

// ICMPv6 is an ICMPv6 message (checksum 0x1234: tcpdump does not check it without -v).
func ICMPv6(typ, code uint8, body []byte) []byte {
	return append([]byte{typ, code, 0x12, 0x34}, body...)
}

// Cat concatenates parts.
func Cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// BE16 is v big-endian.
func BE16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

// BE32 is v big-endian.
func BE32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// Addr16 is the 16 bytes of an IPv6 address.
func Addr16(a string) []byte {
	v := netip.MustParseAddr(a).As16()
	return v[:]
}

// Pad is a copy of b padded to the Ethernet minimum.
func Pad(b []byte) []byte { return wire.PadFrame(bytes.Clone(b)) }
