package tcpdump

import "github.com/smolfs/smolfs/netcore/wire"

// IPv6 (print-ip6.c, print-ip6opts.c, print-frag6.c).

// The IPv6 header's layout is wire's (RFC 8200).
const (
	ip6PayloadLenOff = wire.IPv6PayloadLenOff
	ip6NextHeaderOff = wire.IPv6NextHeaderOff
	ip6SrcOff        = wire.IPv6SrcOff
	ip6DstOff        = wire.IPv6DstOff
	ip6HeaderLen     = wire.IPv6HeaderLen
	ip6FragOffMask   = wire.IPv6FragOffMask
)

// ip6ExtLen is the length of a hop-by-hop, destination options or routing
// header at cp: its second byte counts 8-byte units after the first.
func (p *printer) ip6ExtLen(cp int) int { return (int(p.u8(cp+wire.IPv6ExtLenOff)) + 1) << 3 }

func (p *printer) ip6(off, length int) {
	p.proto = "ip6"
	if !p.ttest(off, ip6HeaderLen) {
		p.truncMark()
		return
	}
	if length < ip6HeaderLen {
		p.field("truncated-ip6 ", uint64(length))
		return
	}
	if v := p.u8(off) >> 4; v != 6 {
		p.field("version error: ", uint64(v))
		p.str(" != 6")
		return
	}
	payloadLen := int(p.be16(off + ip6PayloadLenOff))
	var total int
	if payloadLen != 0 {
		total = payloadLen + ip6HeaderLen
		if length < total {
			p.field("truncated-ip6 - ", uint64(total-length))
			p.str(" bytes missing!")
		}
	} else {
		total = length + ip6HeaderLen
	}
	nh := p.u8(off + ip6NextHeaderOff)
	ph := uint8(255)
	old := p.pushSnap(off, total)
	defer func() { p.end = old }()
	cp := off
	advance := ip6HeaderLen
	foundExt, foundHBH, fragmented := false, false, false
	rem := total
	for cp < p.end && advance > 0 {
		if rem < advance {
			p.truncMark()
			return
		}
		cp += advance
		rem -= advance
		if cp == off+ip6HeaderLen && !portsInLine(nh) {
			p.ipAddrs(off)
			p.str(": ")
		}
		switch nh {
		case ipProtoHopOpts:
			if foundHBH {
				p.str("[The Hop-by-Hop Options header was already found] (invalid)")
				return
			}
			if ph != 255 {
				p.str("[The Hop-by-Hop Options header don't follow the IPv6 header] (invalid)")
				return
			}
			p.proto = "hbhopt"
			hl := p.ip6ExtLen(cp)
			if !p.ttest(cp, hl) {
				p.truncMark()
				advance = -1
			} else {
				p.str("HBH ")
				if !p.ip6Options(cp+wire.IPv6OptionsOff, hl-wire.IPv6OptionsOff) {
					p.truncMark()
					advance = -1
				} else {
					advance = hl
				}
			}
			if payloadLen == 0 {
				// A zero payload length needs a valid Jumbo Payload
				// option, which Ethernet cannot carry anyway.
				p.str("[No valid Jumbo Payload Hop-by-Hop option found] (invalid)")
				return
			}
			if advance < 0 {
				return
			}
			foundExt, foundHBH = true, true
			nh = p.u8(cp)
		case ipProtoDstOpts:
			p.proto = "dstopt"
			hl := p.ip6ExtLen(cp)
			if !p.ttest(cp, hl) {
				p.truncMark()
				return
			}
			p.str("DSTOPT ")
			advance = hl
			foundExt = true
			nh = p.u8(cp)
		case ipProtoFragment:
			p.proto = "frag6"
			offlg := p.be16(cp + wire.IPv6FragOffOff)
			fragLen := uint64(int64(ip6HeaderLen + int(p.be16(off+ip6PayloadLenOff)) - (cp - off) - wire.IPv6FragLen))
			p.field("frag (", uint64(offlg&ip6FragOffMask))
			p.field("|", fragLen)
			p.str(")")
			if offlg&ip6FragOffMask != 0 {
				return
			}
			p.str(" ")
			advance = wire.IPv6FragLen
			if p.end <= cp+advance {
				return
			}
			foundExt = true
			nh = p.u8(cp)
			fragmented = true
		case ipProtoRouting:
			p.check(cp, 1)
			if advance = p.rt6(cp); advance < 0 {
				return
			}
			foundExt = true
			nh = p.u8(cp)
		case ipProtoMobility, ipProtoMobileOld:
			// Mobility headers have a printer we do not have.
			return
		default:
			plen := rem
			if payloadLen == 0 {
				if foundExt {
					p.truncMark()
					return
				}
				plen = 0
				p.end = min(p.end, off+ip6HeaderLen)
			}
			p.ipDemux(cp, plen, 6, fragmented, nh, off)
			return
		}
		ph = nh
		p.proto = "ip6"
	}
}

// Routing header types rt6_print knows (RFC 8200, RFC 6275, RFC 8754).
const (
	rt6Type0   = 0 // deprecated by RFC 5095, still printed
	rt6Type2   = 2
	rt6TypeSRH = 4
	srhLastOff = 4 // segment routing header: last entry, flags, tag
	srhFlagOff = 5
	srhTagOff  = 6
	rt6AddrOff = 8 // where the addresses start, for every known type
)

// rt6 is rt6_print without -v: it returns how far the header reaches, or
// -1 where tcpdump stops the line.
func (p *printer) rt6(cp int) int {
	p.proto = "rt6"
	p.str("RT6")
	n := int(p.u8(cp + wire.IPv6ExtLenOff))
	p.field(" (len=", uint64(n))
	typ := p.u8(cp + wire.IPv6RoutingTypeOff)
	p.field(", type=", uint64(typ))
	if typ == rt6Type0 {
		p.str(" [Deprecated]")
	}
	p.field(", segleft=", uint64(p.u8(cp+wire.IPv6SegmentsLeftOff)))
	switch typ {
	case rt6Type0, rt6Type2:
		if rsv := p.be32(cp + 4); rsv != 0 {
			p.str(", rsv=0x")
			p.hex(uint64(rsv), 0)
		}
	case rt6TypeSRH:
		p.field(", last-entry=", uint64(p.u8(cp+srhLastOff)))
		if f := p.u8(cp + srhFlagOff); f != 0 {
			p.str(", flags=0x")
			p.hex(uint64(f), 0)
		}
		p.str(", tag=")
		p.hex(uint64(p.be16(cp+srhTagOff)), 0)
	default:
		p.str(" (unknown type) (invalid)")
		return -1
	}
	if n%2 == 1 {
		p.field(" (invalid length ", uint64(n))
		p.str(") (invalid)")
		return -1
	}
	for i := range n / 2 {
		p.check(cp+rt6AddrOff+16*i, 16) // the address is read before anything of its item is printed
		p.field(", [", uint64(i))
		p.str("]")
		p.ipv6(cp + rt6AddrOff + 16*i)
	}
	p.str(") ")
	return (n + 1) << 3
}

// ip6Opts are the options ip6_opt_process checks: the least room the
// option must have left in the header, and what its length byte must hold.
var ip6Opts = map[uint8]struct {
	name  string
	room  int
	lenOK func(l uint8) bool
}{
	1:    {"padn", 2, nil},
	5:    {"rtalert", 4, func(l uint8) bool { return l == 2 }},
	0xc2: {"jumbo", 6, func(l uint8) bool { return l == 4 }},
	0xc9: {"homeaddr", 18, func(l uint8) bool { return l >= 16 }},
}

// ip6Options is ip6_opt_process without -v: it prints only problems and
// reports false where tcpdump gives up on the header as truncated.
func (p *printer) ip6Options(off, n int) bool {
	for i, olen := 0, 0; i < n; i += olen {
		t := p.u8(off + i)
		if t == 0 { // Pad1
			olen = 1
			continue
		}
		if i+1 >= n {
			return false
		}
		olen = int(p.u8(off+i+1)) + 2
		if i+olen > n {
			return false
		}
		opt, known := ip6Opts[t]
		if !known {
			opt.room = 2
		}
		if n-i < opt.room {
			if known {
				p.str("(")
				p.str(opt.name)
			} else {
				p.field("(type ", uint64(t))
			}
			p.str(": trunc)")
			return false
		}
		if l := p.u8(off + i + 1); opt.lenOK != nil && !opt.lenOK(l) {
			p.str("(")
			p.str(opt.name)
			p.field(": invalid len ", uint64(l))
			p.str(")")
			return false
		}
	}
	return true
}
