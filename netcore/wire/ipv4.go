package wire

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// IPProtocol is the IPv4 protocol number.
type IPProtocol uint8

// Protocols the core knows by number.
const (
	ProtoICMP IPProtocol = 1
	ProtoTCP  IPProtocol = 6
	ProtoUDP  IPProtocol = 17
)

// IPv4 header layout.
const (
	IPv4VerIHLOff    = 0
	IPv4TOSOff       = 1
	IPv4TotalLenOff  = 2
	IPv4IDOff        = 4
	IPv4FlagsFragOff = 6
	IPv4TTLOff       = 8
	IPv4ProtoOff     = 9
	IPv4ChecksumOff  = 10
	IPv4SrcOff       = 12
	IPv4DstOff       = 16
	IPv4MinLen       = 20

	IPv4FlagMF      = 0x2000
	IPv4FlagDF      = 0x4000
	IPv4FragOffMask = 0x1fff
)

// Errors of the IPv4 checked view.
var (
	ErrIPv4Version  = errors.New("not IPv4")
	ErrIPv4Header   = errors.New("bad IPv4 header length")
	ErrIPv4Length   = errors.New("bad IPv4 total length")
	ErrIPv4Checksum = errors.New("bad IPv4 header checksum")
)

// IPv4Packet is a view over the bytes of an IPv4 packet.
type IPv4Packet []byte

// NewIPv4Packet checks the version, the header length and the total length
// against len(b). It does not verify the checksum (see VerifyChecksum).
func NewIPv4Packet(b []byte) (IPv4Packet, error) {
	if len(b) < IPv4MinLen {
		return nil, ErrTruncated
	}
	p := IPv4Packet(b)
	if p.Version() != 4 {
		return nil, ErrIPv4Version
	}
	hl := p.HeaderLen()
	if hl < IPv4MinLen {
		return nil, ErrIPv4Header
	}
	if len(b) < hl {
		return nil, ErrTruncated
	}
	tl := int(p.TotalLen())
	if tl < hl {
		return nil, ErrIPv4Length
	}
	if len(b) < tl {
		return nil, ErrTruncated
	}
	return p, nil
}

// Version is the IP version field.
func (p IPv4Packet) Version() uint8 { return p[IPv4VerIHLOff] >> 4 }

// HeaderLen is the header length in bytes (IHL × 4), options included.
func (p IPv4Packet) HeaderLen() int { return int(p[IPv4VerIHLOff]&0x0f) * 4 }

// TOS is the type-of-service byte.
func (p IPv4Packet) TOS() uint8 { return p[IPv4TOSOff] }

// TotalLen is the total length field.
func (p IPv4Packet) TotalLen() uint16 { return binary.BigEndian.Uint16(p[IPv4TotalLenOff:]) }

// ID is the identification field.
func (p IPv4Packet) ID() uint16 { return binary.BigEndian.Uint16(p[IPv4IDOff:]) }

// FlagsFrag is the flags and fragment offset field.
func (p IPv4Packet) FlagsFrag() uint16 { return binary.BigEndian.Uint16(p[IPv4FlagsFragOff:]) }

// MoreFragments reports the MF flag.
func (p IPv4Packet) MoreFragments() bool { return p.FlagsFrag()&IPv4FlagMF != 0 }

// DontFragment reports the DF flag.
func (p IPv4Packet) DontFragment() bool { return p.FlagsFrag()&IPv4FlagDF != 0 }

// FragmentOffset is the fragment offset in bytes.
func (p IPv4Packet) FragmentOffset() int { return int(p.FlagsFrag()&IPv4FragOffMask) * 8 }

// IsFragment reports whether the packet is part of a fragmented datagram.
func (p IPv4Packet) IsFragment() bool { return p.MoreFragments() || p.FragmentOffset() != 0 }

// TTL is the time-to-live.
func (p IPv4Packet) TTL() uint8 { return p[IPv4TTLOff] }

// Protocol is the payload's protocol number.
func (p IPv4Packet) Protocol() IPProtocol { return IPProtocol(p[IPv4ProtoOff]) }

// Checksum is the header checksum field.
func (p IPv4Packet) Checksum() uint16 { return binary.BigEndian.Uint16(p[IPv4ChecksumOff:]) }

// Src is the source address.
func (p IPv4Packet) Src() netip.Addr { return netip.AddrFrom4([4]byte(p[IPv4SrcOff : IPv4SrcOff+4])) }

// Dst is the destination address.
func (p IPv4Packet) Dst() netip.Addr { return netip.AddrFrom4([4]byte(p[IPv4DstOff : IPv4DstOff+4])) }

// VerifyChecksum reports whether the header checksum is correct.
func (p IPv4Packet) VerifyChecksum() bool { return Checksum(p[:p.HeaderLen()]) == 0 }

// Payload is the data after the header and options, up to the total length
// (Ethernet padding excluded).
func (p IPv4Packet) Payload() []byte { return p[p.HeaderLen():p.TotalLen()] }

// IPv4Repr is the parsed meaning of an IPv4 header. Options are skipped:
// Append never writes any.
type IPv4Repr struct {
	Src, Dst   netip.Addr
	Protocol   IPProtocol
	TTL        uint8
	TOS        uint8
	ID         uint16
	DF         bool
	PayloadLen int
}

// ParseIPv4 parses b as an IPv4 packet and checks its header checksum.
func ParseIPv4(b []byte) (IPv4Repr, error) {
	p, err := NewIPv4Packet(b)
	if err != nil {
		return IPv4Repr{}, err
	}
	if !p.VerifyChecksum() {
		return IPv4Repr{}, ErrIPv4Checksum
	}
	return IPv4Repr{
		Src:        p.Src(),
		Dst:        p.Dst(),
		Protocol:   p.Protocol(),
		TTL:        p.TTL(),
		TOS:        p.TOS(),
		ID:         p.ID(),
		DF:         p.DontFragment(),
		PayloadLen: int(p.TotalLen()) - p.HeaderLen(),
	}, nil
}

// Append appends a 20-byte header with a correct checksum to b. The payload
// (PayloadLen bytes) is the caller's to append after it.
func (r IPv4Repr) Append(b []byte) []byte {
	start := len(b)
	var flags uint16
	if r.DF {
		flags = IPv4FlagDF
	}
	b = append(b, 0x45, r.TOS)
	b = binary.BigEndian.AppendUint16(b, uint16(IPv4MinLen+r.PayloadLen))
	b = binary.BigEndian.AppendUint16(b, r.ID)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = append(b, r.TTL, uint8(r.Protocol), 0, 0)
	b = appendIPv4(b, r.Src)
	b = appendIPv4(b, r.Dst)
	binary.BigEndian.PutUint16(b[start+IPv4ChecksumOff:], Checksum(b[start:]))
	return b
}
