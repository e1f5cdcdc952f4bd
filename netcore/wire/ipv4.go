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

// IPv4Repr is the parsed meaning of an IPv4 header. Options are not part
// of it: Options locates them in a packet, and AppendOptions writes a header
// that carries some.
type IPv4Repr struct {
	Src, Dst   netip.Addr
	Protocol   IPProtocol
	TTL        uint8
	TOS        uint8
	ID         uint16
	DF         bool
	MF         bool // more fragments follow
	FragOffset int  // bytes, a multiple of 8
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
		MF:         p.MoreFragments(),
		FragOffset: p.FragmentOffset(),
		PayloadLen: int(p.TotalLen()) - p.HeaderLen(),
	}, nil
}

// Append appends a 20-byte header with a correct checksum to b. The payload
// (PayloadLen bytes) is the caller's to append after it.
func (r IPv4Repr) Append(b []byte) []byte { return r.AppendOptions(b, nil) }

// AppendOptions appends a header carrying opts, padded with End-of-Options
// octets to a multiple of 4 bytes, with a correct checksum. opts must fit in
// 40 bytes; the payload is the caller's to append.
func (r IPv4Repr) AppendOptions(b, opts []byte) []byte {
	start := len(b)
	hl := IPv4MinLen + (len(opts)+3)&^3
	flags := uint16(r.FragOffset/8) & IPv4FragOffMask
	if r.DF {
		flags |= IPv4FlagDF
	}
	if r.MF {
		flags |= IPv4FlagMF
	}
	b = append(b, 0x40|byte(hl/4), r.TOS)
	b = binary.BigEndian.AppendUint16(b, uint16(hl+r.PayloadLen))
	b = binary.BigEndian.AppendUint16(b, r.ID)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = append(b, r.TTL, uint8(r.Protocol), 0, 0)
	b = appendIPv4(b, r.Src)
	b = appendIPv4(b, r.Dst)
	b = append(b, opts...)
	for len(b)-start < hl {
		b = append(b, IPv4OptEnd)
	}
	binary.BigEndian.PutUint16(b[start+IPv4ChecksumOff:], Checksum(b[start:]))
	return b
}

// SetFragment rewrites the fields that differ between the fragments of one
// datagram (total length, MF and offset) in a header of p's length, and its
// checksum: the fragmenter copies one header and patches it per fragment.
func (p IPv4Packet) SetFragment(totalLen int, mf bool, offset int) {
	binary.BigEndian.PutUint16(p[IPv4TotalLenOff:], uint16(totalLen))
	ff := p.FlagsFrag()&IPv4FlagDF | uint16(offset/8)&IPv4FragOffMask
	if mf {
		ff |= IPv4FlagMF
	}
	binary.BigEndian.PutUint16(p[IPv4FlagsFragOff:], ff)
	p.SetChecksum()
}

// SetChecksum recomputes the header checksum after a change.
func (p IPv4Packet) SetChecksum() {
	p[IPv4ChecksumOff], p[IPv4ChecksumOff+1] = 0, 0
	binary.BigEndian.PutUint16(p[IPv4ChecksumOff:], Checksum(p[:p.HeaderLen()]))
}

// IPv4 options (RFC 791 3.1). Every option but End and NOP is a type
// octet, a length octet counting both, and data; Record Route, the source
// routes and Timestamp begin their data with a pointer: the 1-based octet
// of the option where the next slot starts, past the end when it is full.
const (
	IPv4OptEnd       = 0
	IPv4OptNOP       = 1
	IPv4OptRR        = 7    // Record Route
	IPv4OptTimestamp = 68   // Internet Timestamp
	IPv4OptLSRR      = 131  // Loose Source and Record Route
	IPv4OptSSRR      = 137  // Strict Source and Record Route
	IPv4OptRA        = 148  // Router Alert (RFC 2113)
	IPv4OptCopied    = 0x80 // the type's copy flag: repeated in every fragment

	IPv4OptTypeOff  = 0
	IPv4OptLenOff   = 1
	IPv4OptPtrOff   = 2 // RR, LSRR, SSRR, Timestamp
	IPv4OptFlagsOff = 3 // Timestamp: overflow count (high nibble) and flag (low)
	IPv4OptRRMinPtr = 4 // the first slot of RR and the source routes
	IPv4OptTSMinPtr = 5 // the first slot of Timestamp
	IPv4MaxOptLen   = 40

	// Timestamp flags: what each slot holds.
	IPv4TSOnly    = 0 // a timestamp
	IPv4TSAndAddr = 1 // an address and a timestamp
	IPv4TSPrespec = 3 // a given address, and its timestamp if it is the recorder's
)

// ErrIPv4Option is returned for a malformed option; IPv4Options.Bad tells
// which octet.
var ErrIPv4Option = errors.New("malformed IPv4 option")

// IPv4Options locates the options of a header that the host acts on, by the
// offset of their type octet in the header (0: absent).
type IPv4Options struct {
	RR, TS, SRR uint8
	StrictSR    bool  // SRR is a strict source route
	Bad         uint8 // with ErrIPv4Option: the octet at fault, as Parameter Problem's pointer names it
}

// Options walks the header's options and checks what RFC 791 and RFC 1122
// fix about them, the checks Linux's ip_options_compile makes: lengths that
// fit, pointers in range, a slot that is not cut short, a Timestamp overflow
// count that can still grow, at most one of each kind. Options it does not
// know are skipped by their length.
func (p IPv4Packet) Options() (IPv4Options, error) {
	var o IPv4Options
	bad := func(at int) (IPv4Options, error) {
		o.Bad = uint8(at)
		return o, ErrIPv4Option
	}
	hl := p.HeaderLen()
	for i := IPv4MinLen; i < hl; {
		typ := p[i]
		switch typ {
		case IPv4OptEnd:
			return o, nil
		case IPv4OptNOP:
			i++
			continue
		}
		if hl-i < 2 {
			return bad(i)
		}
		l := int(p[i+IPv4OptLenOff])
		if l < 2 || l > hl-i {
			return bad(i)
		}
		switch typ {
		case IPv4OptRR, IPv4OptLSRR, IPv4OptSSRR:
			seen := &o.RR
			if typ != IPv4OptRR {
				seen = &o.SRR
			}
			if *seen != 0 {
				return bad(i)
			}
			if l < 3 {
				return bad(i + IPv4OptLenOff)
			}
			ptr := int(p[i+IPv4OptPtrOff])
			if ptr < IPv4OptRRMinPtr || typ == IPv4OptRR && ptr <= l && ptr+3 > l {
				return bad(i + IPv4OptPtrOff)
			}
			*seen = uint8(i)
			o.StrictSR = o.StrictSR || typ == IPv4OptSSRR
		case IPv4OptTimestamp:
			if o.TS != 0 {
				return bad(i)
			}
			if l < 4 {
				return bad(i + IPv4OptLenOff)
			}
			ptr := int(p[i+IPv4OptPtrOff])
			flag := p[i+IPv4OptFlagsOff] & 0x0f
			switch {
			case ptr < IPv4OptTSMinPtr:
				return bad(i + IPv4OptPtrOff)
			case ptr <= l:
				slot := 4
				if flag == IPv4TSAndAddr || flag == IPv4TSPrespec {
					slot = 8
				}
				if ptr+slot-1 > l {
					return bad(i + IPv4OptPtrOff)
				}
			case flag != IPv4TSPrespec && p[i+IPv4OptFlagsOff]>>4 == 15:
				return bad(i + IPv4OptFlagsOff) // the overflow count cannot grow
			}
			o.TS = uint8(i)
		}
		i += l
	}
	return o, nil
}

// IPv4Option is a view over one option that has a length octet, as located
// by Options.
type IPv4Option []byte

// Option returns the option whose type octet is at off in the header.
func (p IPv4Packet) Option(off uint8) IPv4Option {
	return IPv4Option(p[off : int(off)+int(p[int(off)+IPv4OptLenOff])])
}

// Type is the option's type octet.
func (o IPv4Option) Type() uint8 { return o[IPv4OptTypeOff] }

// Pointer is the 1-based octet where the next slot starts.
func (o IPv4Option) Pointer() int { return int(o[IPv4OptPtrOff]) }

// SetPointer moves the pointer.
func (o IPv4Option) SetPointer(ptr int) { o[IPv4OptPtrOff] = uint8(ptr) }

// Full reports whether no slot is left: the pointer is past the end.
func (o IPv4Option) Full() bool { return o.Pointer() > len(o) }

// TSFlag is a Timestamp option's flag (IPv4TSOnly, ...).
func (o IPv4Option) TSFlag() uint8 { return o[IPv4OptFlagsOff] & 0x0f }

// TSOverflow is a Timestamp option's count of stations that found no room.
func (o IPv4Option) TSOverflow() uint8 { return o[IPv4OptFlagsOff] >> 4 }

// SetTSOverflow sets the overflow count (0..15).
func (o IPv4Option) SetTSOverflow(n uint8) { o[IPv4OptFlagsOff] = n<<4 | o.TSFlag() }

// Slot is the 4 bytes at 1-based octet ptr, where a slot's address or
// timestamp goes.
func (o IPv4Option) Slot(ptr int) []byte { return o[ptr-1 : ptr+3] }
