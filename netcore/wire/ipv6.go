package wire

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// IPv6 (RFC 8200): the fixed header, the extension headers a host must
// walk (hop-by-hop and destination options, routing, fragment), and the
// addresses IPv6 derives from a hardware address (RFC 4291, RFC 2464).

// Next-header values of IPv6 (IANA protocol numbers) that are not also
// IPv4 protocols above.
const (
	ProtoHopByHop IPProtocol = 0
	ProtoRouting  IPProtocol = 43
	ProtoFragment IPProtocol = 44
	ProtoESP      IPProtocol = 50
	ProtoAH       IPProtocol = 51
	ProtoICMPv6   IPProtocol = 58
	ProtoNoNext   IPProtocol = 59
	ProtoDstOpts  IPProtocol = 60
	ProtoMobility IPProtocol = 135
	ProtoHIP      IPProtocol = 139
	ProtoShim6    IPProtocol = 140
)

// IsIPv6Extension reports whether nh names an extension header (RFC 8200
// section 4, RFC 7045): what a node must walk or skip before the
// upper-layer header, as opposed to an upper-layer protocol.
func IsIPv6Extension(nh IPProtocol) bool {
	switch nh {
	case ProtoHopByHop, ProtoRouting, ProtoFragment, ProtoDstOpts, ProtoAH, ProtoESP,
		ProtoMobility, ProtoHIP, ProtoShim6, 253, 254:
		return true
	}
	return false
}

// IPv6 fixed header layout.
const (
	IPv6VerTCFLOff     = 0 // version (4 bits), traffic class (8), flow label (20)
	IPv6PayloadLenOff  = 4
	IPv6NextHeaderOff  = 6
	IPv6HopLimitOff    = 7
	IPv6SrcOff         = 8
	IPv6DstOff         = 24
	IPv6HeaderLen      = 40
	IPv6MinMTU         = 1280 // every link carries this much (RFC 8200 section 5)
	IPv6FlowLabelMask  = 0x000fffff
	IPv6TrafficClassSh = 20
)

// Errors of the IPv6 checked views.
var (
	ErrIPv6Version = errors.New("not IPv6")
	ErrIPv6Ext     = errors.New("bad IPv6 extension header")
)

// IPv6Packet is a view over an IPv6 packet: the fixed header and its
// payload, extension headers included.
type IPv6Packet []byte

// NewIPv6Packet checks the version and that b holds the payload length the
// header claims. A payload length of 0 is taken as an empty payload: a
// jumbogram (RFC 2675) cannot cross an Ethernet.
func NewIPv6Packet(b []byte) (IPv6Packet, error) {
	if len(b) < IPv6HeaderLen {
		return nil, ErrTruncated
	}
	p := IPv6Packet(b)
	if p.Version() != 6 {
		return nil, ErrIPv6Version
	}
	if len(b) < IPv6HeaderLen+int(p.PayloadLen()) {
		return nil, ErrTruncated
	}
	return p, nil
}

// Version is the IP version field.
func (p IPv6Packet) Version() uint8 { return p[IPv6VerTCFLOff] >> 4 }

// TrafficClass is the traffic class byte.
func (p IPv6Packet) TrafficClass() uint8 {
	return uint8(binary.BigEndian.Uint32(p[IPv6VerTCFLOff:]) >> IPv6TrafficClassSh)
}

// FlowLabel is the 20-bit flow label.
func (p IPv6Packet) FlowLabel() uint32 {
	return binary.BigEndian.Uint32(p[IPv6VerTCFLOff:]) & IPv6FlowLabelMask
}

// PayloadLen is the payload length field: everything after the fixed header.
func (p IPv6Packet) PayloadLen() uint16 { return binary.BigEndian.Uint16(p[IPv6PayloadLenOff:]) }

// NextHeader is the type of the first header after the fixed one.
func (p IPv6Packet) NextHeader() IPProtocol { return IPProtocol(p[IPv6NextHeaderOff]) }

// HopLimit is the hop limit.
func (p IPv6Packet) HopLimit() uint8 { return p[IPv6HopLimitOff] }

// Src is the source address.
func (p IPv6Packet) Src() netip.Addr {
	return netip.AddrFrom16([16]byte(p[IPv6SrcOff : IPv6SrcOff+16]))
}

// Dst is the destination address.
func (p IPv6Packet) Dst() netip.Addr {
	return netip.AddrFrom16([16]byte(p[IPv6DstOff : IPv6DstOff+16]))
}

// Payload is what follows the fixed header, up to the payload length
// (Ethernet padding excluded).
func (p IPv6Packet) Payload() []byte { return p[IPv6HeaderLen : IPv6HeaderLen+int(p.PayloadLen())] }

// UpperChecksumOK reports whether the checksum of the upper-layer message
// at off (to the end of the payload) is right, over the pseudo-header of
// p's own addresses with next header nh (RFC 8200 8.1). A packet with a
// routing header still to follow has another destination in its
// pseudo-header; hosts refuse those before they get here.
func (p IPv6Packet) UpperChecksumOK(off int, nh IPProtocol) bool {
	end := IPv6HeaderLen + int(p.PayloadLen())
	if off < IPv6HeaderLen || off > end {
		return false
	}
	return fold(p.upperSum(off, end, nh)) == 0xffff
}

// upperSum is the unfolded sum of the pseudo-header of p's addresses and
// the upper-layer bytes off:end. Right after the fixed header (the common
// case) the addresses and the message are one run of bytes: one sum.
func (p IPv6Packet) upperSum(off, end int, nh IPProtocol) uint64 {
	seed := uint64(end-off) + uint64(nh)
	if off == IPv6HeaderLen {
		return sumWords(seed, p[IPv6SrcOff:end])
	}
	return sumWords(sumWords(seed, p[IPv6SrcOff:IPv6DstOff+16]), p[off:end])
}

// IPv6Repr is the parsed meaning of an IPv6 fixed header.
type IPv6Repr struct {
	Src, Dst     netip.Addr
	NextHeader   IPProtocol
	HopLimit     uint8
	TrafficClass uint8
	FlowLabel    uint32
	PayloadLen   int
}

// ParseIPv6 parses the fixed header of b.
func ParseIPv6(b []byte) (IPv6Repr, error) {
	p, err := NewIPv6Packet(b)
	if err != nil {
		return IPv6Repr{}, err
	}
	return IPv6Repr{
		Src:          p.Src(),
		Dst:          p.Dst(),
		NextHeader:   p.NextHeader(),
		HopLimit:     p.HopLimit(),
		TrafficClass: p.TrafficClass(),
		FlowLabel:    p.FlowLabel(),
		PayloadLen:   int(p.PayloadLen()),
	}, nil
}

// Append appends the 40-byte fixed header to b. The payload (PayloadLen
// bytes, extension headers included) is the caller's to append after it.
//
// It grows b once and fills the header in place: on the hot paths that
// build a reply, field-by-field appends cost twice as much.
func (r IPv6Repr) Append(b []byte) []byte {
	n := len(b)
	b = grow(b, IPv6HeaderLen)
	h := b[n : n+IPv6HeaderLen]
	binary.BigEndian.PutUint32(h[IPv6VerTCFLOff:], 6<<28|uint32(r.TrafficClass)<<IPv6TrafficClassSh|r.FlowLabel&IPv6FlowLabelMask)
	binary.BigEndian.PutUint16(h[IPv6PayloadLenOff:], uint16(r.PayloadLen))
	h[IPv6NextHeaderOff], h[IPv6HopLimitOff] = uint8(r.NextHeader), r.HopLimit
	*(*[16]byte)(h[IPv6SrcOff:]) = r.Src.As16()
	*(*[16]byte)(h[IPv6DstOff:]) = r.Dst.As16()
	return b
}

// grow extends b by n bytes, whose contents the caller overwrites.
func grow(b []byte, n int) []byte {
	if len(b)+n <= cap(b) {
		return b[:len(b)+n]
	}
	return append(b, make([]byte, n)...)
}

// Extension headers (RFC 8200 section 4). Hop-by-hop options, routing and
// destination options share one shape: next header, length in 8-byte units
// after the first 8, then their body. The fragment header is 8 bytes.
const (
	IPv6ExtNextOff      = 0
	IPv6ExtLenOff       = 1
	IPv6ExtMinLen       = 8
	IPv6RoutingTypeOff  = 2
	IPv6SegmentsLeftOff = 3
	IPv6FragOffOff      = 2 // fragment offset (13 bits, in 8-byte units), 2 reserved bits, M
	IPv6FragIdentOff    = 4
	IPv6FragLen         = 8
	IPv6FragOffMask     = 0xfff8
	IPv6FragMore        = 0x0001
	IPv6OptionsOff      = 2 // where the options of a hop-by-hop or destination header start
)

// IPv6ExtHeaderLen is the length of the extension header nh at the start
// of b, and ErrTruncated when b cannot hold it. The authentication header
// counts 4-byte units (RFC 4302); ESP and unknown headers cannot be walked
// (ErrIPv6Ext).
func IPv6ExtHeaderLen(nh IPProtocol, b []byte) (int, error) {
	var n int
	switch nh {
	case ProtoFragment:
		n = IPv6FragLen
	case ProtoHopByHop, ProtoRouting, ProtoDstOpts, ProtoMobility, ProtoHIP, ProtoShim6:
		if len(b) < 2 {
			return 0, ErrTruncated
		}
		n = (int(b[IPv6ExtLenOff]) + 1) * 8
	case ProtoAH:
		if len(b) < 2 {
			return 0, ErrTruncated
		}
		n = (int(b[IPv6ExtLenOff]) + 2) * 4
	default:
		return 0, ErrIPv6Ext
	}
	if len(b) < n {
		return 0, ErrTruncated
	}
	return n, nil
}

// IPv6FragmentHeader is a view over a fragment header.
type IPv6FragmentHeader []byte

// NewIPv6FragmentHeader checks that b holds the 8-byte header.
func NewIPv6FragmentHeader(b []byte) (IPv6FragmentHeader, error) {
	if len(b) < IPv6FragLen {
		return nil, ErrTruncated
	}
	return IPv6FragmentHeader(b[:IPv6FragLen]), nil
}

// NextHeader is the type of the header after the fragmentable part.
func (f IPv6FragmentHeader) NextHeader() IPProtocol { return IPProtocol(f[IPv6ExtNextOff]) }

// Offset is the fragment offset in bytes.
func (f IPv6FragmentHeader) Offset() int {
	return int(binary.BigEndian.Uint16(f[IPv6FragOffOff:]) & IPv6FragOffMask)
}

// More reports the M flag: more fragments follow.
func (f IPv6FragmentHeader) More() bool {
	return binary.BigEndian.Uint16(f[IPv6FragOffOff:])&IPv6FragMore != 0
}

// Ident is the identification of the datagram.
func (f IPv6FragmentHeader) Ident() uint32 { return binary.BigEndian.Uint32(f[IPv6FragIdentOff:]) }

// IPv6FragmentRepr is the parsed meaning of a fragment header.
type IPv6FragmentRepr struct {
	NextHeader IPProtocol
	Offset     int // bytes, a multiple of 8
	More       bool
	Ident      uint32
}

// Append appends the 8-byte header to b.
func (r IPv6FragmentRepr) Append(b []byte) []byte {
	v := uint16(r.Offset) & IPv6FragOffMask
	if r.More {
		v |= IPv6FragMore
	}
	b = append(b, uint8(r.NextHeader), 0)
	b = binary.BigEndian.AppendUint16(b, v)
	return binary.BigEndian.AppendUint32(b, r.Ident)
}

// Options of hop-by-hop and destination options headers (RFC 8200 4.2):
// type, length, data. The two high bits of the type say what a node that
// does not know the option must do.
const (
	IPv6OptPad1        = 0
	IPv6OptPadN        = 1
	IPv6OptJumbo       = 0xc2
	IPv6OptRouterAlert = 5 // RFC 2711; value 0: MLD

	IPv6OptActionMask      = 0xc0
	IPv6OptActionSkip      = 0x00 // skip it
	IPv6OptActionDiscard   = 0x40 // discard the packet
	IPv6OptActionICMP      = 0x80 // discard, and send a parameter problem
	IPv6OptActionICMPUcast = 0xc0 // discard, and send one unless the destination is multicast
)

// IPv6Option is one option of a hop-by-hop or destination options header.
// Data aliases the header.
type IPv6Option struct {
	Type uint8
	Off  int // offset of its type byte in the header
	Data []byte
}

// IPv6Options walks the options of a hop-by-hop or destination options
// header. The zero value is done.
type IPv6Options struct {
	hdr []byte
	off int
	err error
}

// NewIPv6Options walks the options of hdr, a whole hop-by-hop or
// destination options header (as IPv6ExtHeaderLen measured it).
func NewIPv6Options(hdr []byte) IPv6Options {
	return IPv6Options{hdr: hdr, off: IPv6OptionsOff}
}

// Next returns the next option other than padding, and false at the end
// or when an option runs past the header (then Err says so).
func (it *IPv6Options) Next() (IPv6Option, bool) {
	for it.err == nil && it.off < len(it.hdr) {
		t := it.hdr[it.off]
		if t == IPv6OptPad1 {
			it.off++
			continue
		}
		if it.off+2 > len(it.hdr) {
			it.err = ErrIPv6Ext
			break
		}
		n := int(it.hdr[it.off+1])
		start := it.off
		if start+2+n > len(it.hdr) {
			it.err = ErrIPv6Ext
			break
		}
		it.off += 2 + n
		if t == IPv6OptPadN {
			continue
		}
		return IPv6Option{Type: t, Off: start, Data: it.hdr[start+2 : start+2+n]}, true
	}
	return IPv6Option{}, false
}

// Err is the error that ended the walk, if any.
func (it *IPv6Options) Err() error { return it.err }

// AppendRouterAlertHopByHop appends the hop-by-hop header that MLD messages
// carry (RFC 3810 5): a router alert with value 0 (MLD) and a PadN, 8 bytes.
func AppendRouterAlertHopByHop(b []byte, next IPProtocol) []byte {
	return append(b, uint8(next), 0, IPv6OptRouterAlert, 2, 0, 0, IPv6OptPadN, 0)
}

// Addresses (RFC 4291).

// IsSolicitedNodeMulticast reports whether a is in ff02::1:ff00:0/104.
func IsSolicitedNodeMulticast(a netip.Addr) bool {
	b := a.As16()
	return a.Is6() && b[0] == 0xff && b[1] == 0x02 && b[11] == 0x01 && b[12] == 0xff &&
		binary.BigEndian.Uint64(b[2:10]) == 0 && b[10] == 0
}

// SolicitedNodeMulticast is the solicited-node group of a: ff02::1:ff and
// its low 24 bits (RFC 4291 2.7.1).
func SolicitedNodeMulticast(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom16([16]byte{0xff, 0x02, 11: 0x01, 0xff, b[13], b[14], b[15]})
}

// Well-known IPv6 multicast groups.
var (
	IPv6AllNodes        = netip.AddrFrom16([16]byte{0xff, 0x02, 15: 1})
	IPv6AllRouters      = netip.AddrFrom16([16]byte{0xff, 0x02, 15: 2})
	IPv6AllMLDv2Routers = netip.AddrFrom16([16]byte{0xff, 0x02, 15: 0x16})
)

// MulticastMAC is the Ethernet group address IPv6 multicast a maps to:
// 33:33 and its low 32 bits (RFC 2464 7).
func MulticastMAC(a netip.Addr) MAC {
	b := a.As16()
	return MAC{0x33, 0x33, b[12], b[13], b[14], b[15]}
}

// InterfaceID is the modified EUI-64 interface identifier of a hardware
// address (RFC 4291 appendix A): ff:fe in the middle, the universal/local
// bit inverted.
func InterfaceID(m MAC) [8]byte {
	return [8]byte{m[0] ^ 0x02, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]}
}

// LinkLocal is fe80::/64 with the interface identifier of m.
func LinkLocal(m MAC) netip.Addr {
	id := InterfaceID(m)
	var b [16]byte
	b[0], b[1] = 0xfe, 0x80
	copy(b[8:], id[:])
	return netip.AddrFrom16(b)
}

// WithInterfaceID is the address of prefix p (its first 64 bits) with the
// interface identifier id.
func WithInterfaceID(p netip.Prefix, id [8]byte) netip.Addr {
	b := p.Masked().Addr().As16()
	copy(b[8:], id[:])
	return netip.AddrFrom16(b)
}
