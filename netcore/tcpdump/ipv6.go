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
		case ipProtoMobility, ipProtoMobileOld, ipProtoRouting:
			// Mobility and routing headers have printers we do not have.
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
