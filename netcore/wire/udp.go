package wire

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// UDP header layout (RFC 768).
const (
	UDPSrcPortOff  = 0
	UDPDstPortOff  = 2
	UDPLengthOff   = 4
	UDPChecksumOff = 6
	UDPHeaderLen   = 8
)

// Errors of the UDP checked view.
var (
	ErrUDPLength   = errors.New("bad UDP length")
	ErrUDPChecksum = errors.New("bad UDP checksum")
)

// UDPPacket is a view over a UDP datagram: the header and its data, the
// whole IP payload.
type UDPPacket []byte

// NewUDPPacket checks that b holds the header and that the length field
// says exactly len(b): the datagram is the whole IP payload, so a length
// that disagrees with IP's is an error either way (ErrUDPLength). It does
// not verify the checksum, which needs the IP addresses.
func NewUDPPacket(b []byte) (UDPPacket, error) {
	if len(b) < UDPHeaderLen {
		return nil, ErrTruncated
	}
	p := UDPPacket(b)
	if int(p.Length()) != len(b) {
		return nil, ErrUDPLength
	}
	return p, nil
}

// SrcPort is the source port.
func (p UDPPacket) SrcPort() uint16 { return binary.BigEndian.Uint16(p[UDPSrcPortOff:]) }

// DstPort is the destination port.
func (p UDPPacket) DstPort() uint16 { return binary.BigEndian.Uint16(p[UDPDstPortOff:]) }

// Length is the length field: header and data.
func (p UDPPacket) Length() uint16 { return binary.BigEndian.Uint16(p[UDPLengthOff:]) }

// Checksum is the checksum field; 0 means the sender computed none.
func (p UDPPacket) Checksum() uint16 { return binary.BigEndian.Uint16(p[UDPChecksumOff:]) }

// Payload is the data after the header.
func (p UDPPacket) Payload() []byte { return p[UDPHeaderLen:] }

// VerifyChecksum checks the checksum over the pseudo-header of src and dst
// and the datagram. A checksum of 0 means none was sent (RFC 768), which
// IPv4 allows and IPv6 does not (RFC 8200 8.1).
func (p UDPPacket) VerifyChecksum(src, dst netip.Addr) bool {
	if p.Checksum() == 0 {
		return src.Is4()
	}
	return ChecksumFinish(ChecksumAdd(UDPPseudoHeaderSum(src, dst, len(p)), p)) == 0
}

// UDPRepr is the parsed meaning of a UDP header. Payload aliases the
// parsed buffer.
type UDPRepr struct {
	SrcPort, DstPort uint16
	Payload          []byte
}

// ParseUDP parses a datagram sent from src to dst and checks its length
// and checksum.
func ParseUDP(b []byte, src, dst netip.Addr) (UDPRepr, error) {
	p, err := NewUDPPacket(b)
	if err != nil {
		return UDPRepr{}, err
	}
	if !p.VerifyChecksum(src, dst) {
		return UDPRepr{}, ErrUDPChecksum
	}
	return UDPRepr{SrcPort: p.SrcPort(), DstPort: p.DstPort(), Payload: p.Payload()}, nil
}

// Len is the length of the encoded datagram.
func (r UDPRepr) Len() int { return UDPHeaderLen + len(r.Payload) }

// Append appends the datagram from src to dst, checksum included, to b.
// A checksum that comes out as 0 is sent as 0xffff, its other form, since
// 0 would mean none (RFC 768).
func (r UDPRepr) Append(b []byte, src, dst netip.Addr) []byte {
	start := len(b)
	b = binary.BigEndian.AppendUint16(b, r.SrcPort)
	b = binary.BigEndian.AppendUint16(b, r.DstPort)
	b = binary.BigEndian.AppendUint16(b, uint16(r.Len()))
	b = append(b, 0, 0)
	b = append(b, r.Payload...)
	SetUDPChecksum(b[start:], src, dst)
	return b
}

// SetUDPChecksum computes and stores the checksum of the datagram d (header
// and data) sent from src to dst.
func SetUDPChecksum(d []byte, src, dst netip.Addr) {
	d[UDPChecksumOff], d[UDPChecksumOff+1] = 0, 0
	c := ChecksumFinish(ChecksumAdd(UDPPseudoHeaderSum(src, dst, len(d)), d))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(d[UDPChecksumOff:], c)
}

// UDPPseudoHeaderSum is the unfolded ones' complement sum of the IPv4
// (RFC 768) or IPv6 (RFC 8200 8.1) pseudo-header for a UDP datagram of
// length n, to go on with ChecksumAdd.
func UDPPseudoHeaderSum(src, dst netip.Addr, n int) uint64 {
	var sum uint64
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		sum = uint64(binary.BigEndian.Uint32(s[:])) + uint64(binary.BigEndian.Uint32(d[:]))
	} else {
		s, d := src.As16(), dst.As16()
		sum = ChecksumAdd(ChecksumAdd(0, s[:]), d[:])
	}
	return sum + uint64(ProtoUDP) + uint64(n)
}
