package wire

import "encoding/binary"

// EtherType is the type field of an Ethernet II frame.
type EtherType uint16

// EtherTypes the host knows by name.
const (
	EtherTypeIPv4 EtherType = 0x0800
	EtherTypeARP  EtherType = 0x0806
	EtherTypeVLAN EtherType = 0x8100
	EtherTypeIPv6 EtherType = 0x86dd
)

// Ethernet II header layout.
const (
	EthDstOff     = 0
	EthSrcOff     = 6
	EthTypeOff    = 12
	EthHeaderLen  = 14
	EthMinFrame   = 60 // without FCS: frames the host sends are padded to this
	EthMaxPayload = 1500
)

// EthernetFrame is a view over the bytes of an Ethernet II frame. Accessors
// assume the length was checked by NewEthernetFrame.
type EthernetFrame []byte

// NewEthernetFrame checks that b holds at least an Ethernet header.
func NewEthernetFrame(b []byte) (EthernetFrame, error) {
	if len(b) < EthHeaderLen {
		return nil, ErrTruncated
	}
	return EthernetFrame(b), nil
}

// Dst is the destination hardware address.
func (f EthernetFrame) Dst() MAC { return MAC(f[EthDstOff : EthDstOff+6]) }

// Src is the source hardware address.
func (f EthernetFrame) Src() MAC { return MAC(f[EthSrcOff : EthSrcOff+6]) }

// Type is the type/length field. Values below 0x0600 are 802.3 lengths.
func (f EthernetFrame) Type() EtherType { return EtherType(binary.BigEndian.Uint16(f[EthTypeOff:])) }

// Payload is everything after the header (padding included).
func (f EthernetFrame) Payload() []byte { return f[EthHeaderLen:] }

// IsLengthField reports whether the type field is an 802.3 length (< 0x0600).
func (t EtherType) IsLengthField() bool { return t < 0x0600 }

// EthernetRepr is the parsed meaning of an Ethernet II header.
type EthernetRepr struct {
	Dst, Src MAC
	Type     EtherType
}

// ParseEthernet parses the header of b.
func ParseEthernet(b []byte) (EthernetRepr, error) {
	f, err := NewEthernetFrame(b)
	if err != nil {
		return EthernetRepr{}, err
	}
	return EthernetRepr{Dst: f.Dst(), Src: f.Src(), Type: f.Type()}, nil
}

// Append appends the 14-byte header to b.
func (r EthernetRepr) Append(b []byte) []byte {
	b = append(b, r.Dst[:]...)
	b = append(b, r.Src[:]...)
	return binary.BigEndian.AppendUint16(b, uint16(r.Type))
}

// PadFrame extends a frame to the Ethernet minimum of 60 bytes with zeros.
func PadFrame(b []byte) []byte {
	for len(b) < EthMinFrame {
		b = append(b, 0)
	}
	return b
}
