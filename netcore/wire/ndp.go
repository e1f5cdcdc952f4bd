package wire

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Neighbor discovery (RFC 4861): router solicitation and advertisement,
// neighbor solicitation and advertisement, their options. Each parser
// checks what RFC 4861's validation sections ask of the message itself
// (code 0, length, option lengths, a unicast target, the checksum); what
// they ask of the IPv6 header (hop limit 255, the addresses) is the host's.

// NDP message layout, from the start of the ICMPv6 message.
const (
	NDPRSLen = 8 // router solicitation: reserved, then options

	NDPRAHopLimitOff  = 4
	NDPRAFlagsOff     = 5
	NDPRALifetimeOff  = 6
	NDPRAReachableOff = 8
	NDPRARetransOff   = 12
	NDPRALen          = 16

	NDPNAFlagsOff = 4
	NDPTargetOff  = 8 // neighbor solicitation and advertisement, redirect
	NDPNSLen      = 24
	NDPNALen      = 24

	NDPRAManaged  = 0x80
	NDPRAOther    = 0x40
	NDPNARouter   = 0x80 // the first byte of the NA flags word
	NDPNASolicit  = 0x40
	NDPNAOverride = 0x20
)

// NDP option types and layout (RFC 4861 4.6, RFC 3971 5.3.2, RFC 8106).
const (
	NDPOptSourceLLA  = 1
	NDPOptTargetLLA  = 2
	NDPOptPrefixInfo = 3
	NDPOptRedirected = 4
	NDPOptMTU        = 5
	NDPOptNonce      = 14
	NDPOptRouteInfo  = 24
	NDPOptRDNSS      = 25
	NDPOptDNSSL      = 31

	NDPOptTypeOff = 0
	NDPOptLenOff  = 1 // in units of 8 bytes, type and length included
	NDPOptDataOff = 2

	NDPPrefixLenOff       = 2 // from the option's start
	NDPPrefixFlagsOff     = 3
	NDPPrefixValidOff     = 4
	NDPPrefixPreferredOff = 8
	NDPPrefixOff          = 16
	NDPPrefixOptLen       = 32
	NDPPrefixOnLink       = 0x80
	NDPPrefixAuto         = 0x40
	NDPMTUOff             = 4
	NDPLLAOptLen          = 8 // an Ethernet address option

	NDPInfiniteLifetime = 0xffffffff
)

// ErrNDPInvalid is returned for an NDP message that RFC 4861's validation
// rules make the host discard silently.
var ErrNDPInvalid = errors.New("invalid neighbor discovery message")

// NDPOption is one option of an NDP message. Data is the option's bytes
// after its type and length.
type NDPOption struct {
	Type uint8
	Data []byte
}

// NDPOptions walks the options of an NDP message. The zero value is done.
type NDPOptions struct {
	b   []byte
	err error
}

// NewNDPOptions walks b, the options part of a message.
func NewNDPOptions(b []byte) NDPOptions { return NDPOptions{b: b} }

// Next returns the next option, and false at the end or at an option that
// is shorter than 2 bytes, says length 0 or runs past the message (then Err
// is ErrNDPInvalid: RFC 4861 says to discard the whole message).
func (it *NDPOptions) Next() (NDPOption, bool) {
	if it.err != nil || len(it.b) == 0 {
		return NDPOption{}, false
	}
	if len(it.b) < 2 || it.b[NDPOptLenOff] == 0 || len(it.b) < int(it.b[NDPOptLenOff])*8 {
		it.err = ErrNDPInvalid
		return NDPOption{}, false
	}
	n := int(it.b[NDPOptLenOff]) * 8
	o := NDPOption{Type: it.b[NDPOptTypeOff], Data: it.b[NDPOptDataOff:n]}
	it.b = it.b[n:]
	return o, true
}

// Err is ErrNDPInvalid when the walk found a malformed option.
func (it *NDPOptions) Err() error { return it.err }

// lla reads a link-layer address option's Ethernet address.
func (o NDPOption) lla() (MAC, bool) {
	if len(o.Data) < 6 {
		return MAC{}, false
	}
	return MAC(o.Data[:6]), true
}

// ndpCheck is the part of validation every NDP message shares: the
// checksum, code 0, the fixed part present.
func ndpCheck(b []byte, typ ICMPv6Type, fixed int, src, dst netip.Addr) (ICMPv6Packet, error) {
	p, err := NewICMPv6Packet(b)
	if err != nil {
		return nil, err
	}
	if p.Type() != typ || p.Code() != 0 || len(p) < fixed {
		return nil, ErrNDPInvalid
	}
	if !p.VerifyChecksum(src, dst) {
		return nil, ErrICMPv6Checksum
	}
	return p, nil
}

// appendLLA appends a link-layer address option.
func appendLLA(b []byte, typ uint8, m MAC) []byte {
	b = append(b, typ, 1)
	return append(b, m[:]...)
}

// NDPNeighborSolicit is the parsed meaning of a neighbor solicitation.
type NDPNeighborSolicit struct {
	Target    netip.Addr
	SourceLLA MAC // zero when the message has no source link-layer address option
	Nonce     []byte
}

// NDPNeighborSolicitPacket is a view over a neighbor solicitation whose
// fixed part and options NewNDPNeighborSolicitPacket checked.
type NDPNeighborSolicitPacket []byte

// NewNDPNeighborSolicitPacket checks what RFC 4861 7.1.1 asks of the
// message but its checksum, which needs the IPv6 header: the type, code 0,
// the length, every option's length, a target that is not multicast. A
// receive path that has the packet verifies the checksum with
// IPv6Packet.UpperChecksumOK; ParseNDPNeighborSolicit does both.
func NewNDPNeighborSolicitPacket(b []byte) (NDPNeighborSolicitPacket, error) {
	if len(b) < NDPNSLen || ICMPv6Type(b[ICMPv6TypeOff]) != ICMPv6NeighSolicit || b[ICMPv6CodeOff] != 0 {
		return nil, ErrNDPInvalid
	}
	p := NDPNeighborSolicitPacket(b)
	if b[NDPTargetOff] == 0xff { // a multicast target
		return nil, ErrNDPInvalid
	}
	if p.onlySourceLLA() {
		return p, nil // what nearly every solicitation carries: nothing to walk
	}
	it := NewNDPOptions(b[NDPNSLen:])
	for _, ok := it.Next(); ok; _, ok = it.Next() {
	}
	if it.Err() != nil {
		return nil, it.Err()
	}
	return p, nil
}

// Target is the address solicited.
func (p NDPNeighborSolicitPacket) Target() netip.Addr {
	return netip.AddrFrom16([16]byte(p[NDPTargetOff : NDPTargetOff+16]))
}

// Options walks the options.
func (p NDPNeighborSolicitPacket) Options() NDPOptions { return NewNDPOptions(p[NDPNSLen:]) }

// Repr is the parsed meaning; Nonce aliases the packet.
func (p NDPNeighborSolicitPacket) Repr() NDPNeighborSolicit {
	r := NDPNeighborSolicit{Target: p.Target()}
	it := p.Options()
	for o, ok := it.Next(); ok; o, ok = it.Next() {
		switch o.Type {
		case NDPOptSourceLLA:
			r.SourceLLA, _ = o.lla()
		case NDPOptNonce:
			r.Nonce = o.Data
		}
	}
	return r
}

// onlySourceLLA reports whether the options are one Ethernet source
// link-layer address option and nothing else.
func (p NDPNeighborSolicitPacket) onlySourceLLA() bool {
	return len(p) == NDPNSLen+NDPLLAOptLen && p[NDPNSLen+NDPOptTypeOff] == NDPOptSourceLLA && p[NDPNSLen+NDPOptLenOff] == 1
}

// SourceLLA is the source link-layer address option's Ethernet address,
// zero when the message has none.
func (p NDPNeighborSolicitPacket) SourceLLA() MAC {
	if p.onlySourceLLA() {
		return MAC(p[NDPNSLen+NDPOptDataOff:])
	}
	it := p.Options()
	for o, ok := it.Next(); ok; o, ok = it.Next() {
		if o.Type == NDPOptSourceLLA {
			m, _ := o.lla()
			return m
		}
	}
	return MAC{}
}

// ParseNDPNeighborSolicit parses a neighbor solicitation sent from src to
// dst (RFC 4861 7.1.1: the target is not multicast).
func ParseNDPNeighborSolicit(b []byte, src, dst netip.Addr) (NDPNeighborSolicit, error) {
	p, err := NewNDPNeighborSolicitPacket(b)
	if err != nil {
		if len(b) < 4 {
			return NDPNeighborSolicit{}, ErrTruncated
		}
		return NDPNeighborSolicit{}, err
	}
	if !ICMPv6Packet(b).VerifyChecksum(src, dst) {
		return NDPNeighborSolicit{}, ErrICMPv6Checksum
	}
	return p.Repr(), nil
}

// Len is the length of the encoded message.
func (r NDPNeighborSolicit) Len() int {
	n := NDPNSLen
	if !r.SourceLLA.IsZero() {
		n += NDPLLAOptLen
	}
	if len(r.Nonce) > 0 {
		n += (len(r.Nonce) + 2 + 7) / 8 * 8
	}
	return n
}

// Append appends the message from src to dst, checksum included, to b.
func (r NDPNeighborSolicit) Append(b []byte, src, dst netip.Addr) []byte {
	start := len(b)
	b = append(b, uint8(ICMPv6NeighSolicit), 0, 0, 0, 0, 0, 0, 0)
	t := r.Target.As16()
	b = append(b, t[:]...)
	if !r.SourceLLA.IsZero() {
		b = appendLLA(b, NDPOptSourceLLA, r.SourceLLA)
	}
	if len(r.Nonce) > 0 {
		n := (len(r.Nonce) + 2 + 7) / 8 * 8
		b = append(b, NDPOptNonce, uint8(n/8))
		b = append(b, r.Nonce...)
		for i := len(r.Nonce) + 2; i < n; i++ {
			b = append(b, 0)
		}
	}
	SetICMPv6Checksum(b[start:], src, dst)
	return b
}

// NDPNeighborAdvert is the parsed meaning of a neighbor advertisement.
type NDPNeighborAdvert struct {
	Router, Solicited, Override bool
	Target                      netip.Addr
	TargetLLA                   MAC // zero when the message has no target link-layer address option
}

// ParseNDPNeighborAdvert parses a neighbor advertisement sent from src to
// dst (RFC 4861 7.1.2: the target is not multicast; a reply to a multicast
// solicitation is not marked solicited).
func ParseNDPNeighborAdvert(b []byte, src, dst netip.Addr) (NDPNeighborAdvert, error) {
	p, err := ndpCheck(b, ICMPv6NeighAdvert, NDPNALen, src, dst)
	if err != nil {
		return NDPNeighborAdvert{}, err
	}
	f := p[NDPNAFlagsOff]
	r := NDPNeighborAdvert{
		Router:    f&NDPNARouter != 0,
		Solicited: f&NDPNASolicit != 0,
		Override:  f&NDPNAOverride != 0,
		Target:    netip.AddrFrom16([16]byte(p[NDPTargetOff : NDPTargetOff+16])),
	}
	if r.Target.IsMulticast() || r.Solicited && dst.IsMulticast() {
		return NDPNeighborAdvert{}, ErrNDPInvalid
	}
	it := NewNDPOptions(p[NDPNALen:])
	for o, ok := it.Next(); ok; o, ok = it.Next() {
		if o.Type == NDPOptTargetLLA {
			r.TargetLLA, _ = o.lla()
		}
	}
	return r, it.Err()
}

// Len is the length of the encoded message.
func (r NDPNeighborAdvert) Len() int {
	if r.TargetLLA.IsZero() {
		return NDPNALen
	}
	return NDPNALen + NDPLLAOptLen
}

// Append appends the message from src to dst, checksum included, to b.
//
// Like IPv6Repr.Append, it grows b once and fills in place: this builds
// the answer to every solicitation.
func (r NDPNeighborAdvert) Append(b []byte, src, dst netip.Addr) []byte {
	start := len(b)
	b = grow(b, r.Len())
	m := b[start:]
	var f uint8
	if r.Router {
		f |= NDPNARouter
	}
	if r.Solicited {
		f |= NDPNASolicit
	}
	if r.Override {
		f |= NDPNAOverride
	}
	binary.BigEndian.PutUint64(m, uint64(ICMPv6NeighAdvert)<<56|uint64(f)<<24)
	*(*[16]byte)(m[NDPTargetOff:]) = r.Target.As16()
	if !r.TargetLLA.IsZero() {
		m[NDPNALen+NDPOptTypeOff], m[NDPNALen+NDPOptLenOff] = NDPOptTargetLLA, 1
		*(*MAC)(m[NDPNALen+NDPOptDataOff:]) = r.TargetLLA
	}
	SetICMPv6Checksum(m, src, dst)
	return b
}

// NDPRouterSolicit is the parsed meaning of a router solicitation.
type NDPRouterSolicit struct {
	SourceLLA MAC // zero when absent
}

// ParseNDPRouterSolicit parses a router solicitation sent from src to dst.
func ParseNDPRouterSolicit(b []byte, src, dst netip.Addr) (NDPRouterSolicit, error) {
	p, err := ndpCheck(b, ICMPv6RouterSolicit, NDPRSLen, src, dst)
	if err != nil {
		return NDPRouterSolicit{}, err
	}
	var r NDPRouterSolicit
	it := NewNDPOptions(p[NDPRSLen:])
	for o, ok := it.Next(); ok; o, ok = it.Next() {
		if o.Type == NDPOptSourceLLA {
			r.SourceLLA, _ = o.lla()
		}
	}
	return r, it.Err()
}

// Len is the length of the encoded message.
func (r NDPRouterSolicit) Len() int {
	if r.SourceLLA.IsZero() {
		return NDPRSLen
	}
	return NDPRSLen + NDPLLAOptLen
}

// Append appends the message from src to dst, checksum included, to b. A
// solicitation from the unspecified address must not carry the option
// (RFC 4861 4.1): leave SourceLLA zero for it.
func (r NDPRouterSolicit) Append(b []byte, src, dst netip.Addr) []byte {
	start := len(b)
	b = append(b, uint8(ICMPv6RouterSolicit), 0, 0, 0, 0, 0, 0, 0)
	if !r.SourceLLA.IsZero() {
		b = appendLLA(b, NDPOptSourceLLA, r.SourceLLA)
	}
	SetICMPv6Checksum(b[start:], src, dst)
	return b
}

// NDPPrefixInfo is a prefix information option (RFC 4861 4.6.2).
// Lifetimes are in seconds; NDPInfiniteLifetime means forever.
type NDPPrefixInfo struct {
	Prefix             netip.Prefix
	OnLink, Autonomous bool
	ValidLifetime      uint32
	PreferredLifetime  uint32
}

// NDPRouterAdvert is the parsed meaning of a router advertisement.
// Lifetime is in seconds, ReachableTime and RetransTimer in milliseconds
// (0: unspecified).
type NDPRouterAdvert struct {
	CurHopLimit    uint8
	Managed, Other bool
	Lifetime       uint16
	ReachableTime  uint32
	RetransTimer   uint32
	SourceLLA      MAC    // zero when absent
	MTU            uint32 // 0 when absent
	Prefixes       []NDPPrefixInfo
}

// ParseNDPRouterAdvert parses a router advertisement sent from src to dst.
// Its prefix options are appended to prefixes, which the result's Prefixes
// is, so that a caller with room allocates nothing; a prefix option shorter
// than 32 bytes makes the message invalid. Unknown options are skipped
// (RFC 4861 4.6).
func ParseNDPRouterAdvert(b []byte, src, dst netip.Addr, prefixes []NDPPrefixInfo) (NDPRouterAdvert, error) {
	p, err := ndpCheck(b, ICMPv6RouterAdvert, NDPRALen, src, dst)
	if err != nil {
		return NDPRouterAdvert{}, err
	}
	r := NDPRouterAdvert{
		CurHopLimit:   p[NDPRAHopLimitOff],
		Managed:       p[NDPRAFlagsOff]&NDPRAManaged != 0,
		Other:         p[NDPRAFlagsOff]&NDPRAOther != 0,
		Lifetime:      binary.BigEndian.Uint16(p[NDPRALifetimeOff:]),
		ReachableTime: binary.BigEndian.Uint32(p[NDPRAReachableOff:]),
		RetransTimer:  binary.BigEndian.Uint32(p[NDPRARetransOff:]),
		Prefixes:      prefixes,
	}
	it := NewNDPOptions(p[NDPRALen:])
	for o, ok := it.Next(); ok; o, ok = it.Next() {
		switch o.Type {
		case NDPOptSourceLLA:
			r.SourceLLA, _ = o.lla()
		case NDPOptMTU:
			if len(o.Data) >= NDPMTUOff+4-NDPOptDataOff {
				r.MTU = binary.BigEndian.Uint32(o.Data[NDPMTUOff-NDPOptDataOff:])
			}
		case NDPOptPrefixInfo:
			if len(o.Data) < NDPPrefixOptLen-NDPOptDataOff {
				return NDPRouterAdvert{}, ErrNDPInvalid
			}
			d := o.Data
			bits := int(d[NDPPrefixLenOff-NDPOptDataOff])
			if bits > 128 {
				return NDPRouterAdvert{}, ErrNDPInvalid
			}
			a := netip.AddrFrom16([16]byte(d[NDPPrefixOff-NDPOptDataOff : NDPPrefixOff-NDPOptDataOff+16]))
			flags := d[NDPPrefixFlagsOff-NDPOptDataOff]
			r.Prefixes = append(r.Prefixes, NDPPrefixInfo{
				Prefix:            netip.PrefixFrom(a, bits).Masked(),
				OnLink:            flags&NDPPrefixOnLink != 0,
				Autonomous:        flags&NDPPrefixAuto != 0,
				ValidLifetime:     binary.BigEndian.Uint32(d[NDPPrefixValidOff-NDPOptDataOff:]),
				PreferredLifetime: binary.BigEndian.Uint32(d[NDPPrefixPreferredOff-NDPOptDataOff:]),
			})
		}
	}
	return r, it.Err()
}

// Append appends the message from src to dst, checksum included, to b.
func (r NDPRouterAdvert) Append(b []byte, src, dst netip.Addr) []byte {
	start := len(b)
	var f uint8
	if r.Managed {
		f |= NDPRAManaged
	}
	if r.Other {
		f |= NDPRAOther
	}
	b = append(b, uint8(ICMPv6RouterAdvert), 0, 0, 0, r.CurHopLimit, f)
	b = binary.BigEndian.AppendUint16(b, r.Lifetime)
	b = binary.BigEndian.AppendUint32(b, r.ReachableTime)
	b = binary.BigEndian.AppendUint32(b, r.RetransTimer)
	if !r.SourceLLA.IsZero() {
		b = appendLLA(b, NDPOptSourceLLA, r.SourceLLA)
	}
	if r.MTU != 0 {
		b = append(b, NDPOptMTU, 1, 0, 0)
		b = binary.BigEndian.AppendUint32(b, r.MTU)
	}
	for _, pi := range r.Prefixes {
		var f uint8
		if pi.OnLink {
			f |= NDPPrefixOnLink
		}
		if pi.Autonomous {
			f |= NDPPrefixAuto
		}
		b = append(b, NDPOptPrefixInfo, 4, uint8(pi.Prefix.Bits()), f)
		b = binary.BigEndian.AppendUint32(b, pi.ValidLifetime)
		b = binary.BigEndian.AppendUint32(b, pi.PreferredLifetime)
		b = append(b, 0, 0, 0, 0)
		a := pi.Prefix.Addr().As16()
		b = append(b, a[:]...)
	}
	SetICMPv6Checksum(b[start:], src, dst)
	return b
}
