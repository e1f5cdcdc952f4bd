package tcpdump

// ICMPv6 (print-icmp6.c), without -v.

var icmp6TypeNames = map[uint8]string{
	1: "destination unreachable", 2: "packet too big", 3: "time exceeded in-transit",
	4: "parameter problem", 128: "echo request", 129: "echo reply",
	130: "multicast listener query", 131: "multicast listener report",
	132: "multicast listener done", 133: "router solicitation", 134: "router advertisement",
	135: "neighbor solicitation", 136: "neighbor advertisement", 137: "redirect",
	138: "router renumbering", 141: "inverse neighbor solicitation",
	142: "inverse neighbor advertisement", 143: "multicast listener report v2",
	144: "ha discovery request", 145: "ha discovery reply", 146: "mobile router solicitation",
	147: "mobile router advertisement", 139: "who-are-you request", 140: "who-are-you reply",
	201: "mtrace message", 200: "mtrace response", 155: "RPL",
}

func (p *printer) icmp6(off, length int, fragmented bool) {
	p.proto = "icmp6"
	if length == 0 {
		p.str("ICMP6, length 0 (invalid)")
		return
	}
	typ := p.u8(off)
	p.str("ICMP6, ")
	if n, ok := icmp6TypeNames[typ]; ok {
		p.str(n)
	} else {
		p.str("unknown icmp6 type (")
		p.uint(uint64(typ))
		p.str(")")
	}
	code := p.u8(off + 1)
	oip := off + 8
	switch typ {
	case 1:
		p.str(", ")
		switch code {
		case 0:
			p.str("unreachable route")
		case 1:
			p.str(" unreachable prohibited")
		case 2:
			p.str("beyond scope")
		case 3:
			p.str("unreachable address")
		case 4:
			p.str("unreachable port")
		default:
			p.str("unknown unreach code (")
			p.uint(uint64(code))
			p.str(")")
		}
		switch code {
		case 0, 1, 3:
			p.check(oip+24, 16)
			p.str(" ")
			p.ipv6(oip + 24)
		case 2:
			p.check(oip+8, 32)
			p.str(" ")
			p.ipv6(oip + 24)
			p.str(", source address ")
			p.ipv6(oip + 8)
		case 4:
			uh, prot, ok := p.upperLayer6(oip)
			if !ok {
				p.truncMark()
				return
			}
			dport := p.be16(uh + 2)
			p.check(oip+24, 16)
			p.str(", ")
			p.ipv6(oip + 24)
			switch prot {
			case 6:
				p.str(" tcp port ")
				p.uint(uint64(dport))
			case 17:
				p.str(" udp port ")
				p.uint(uint64(dport))
			default:
				p.str(" protocol ")
				p.uint(uint64(prot))
				p.str(" port ")
				p.uint(uint64(dport))
				p.str(" unreachable")
			}
		default:
			p.unknownData(off, length)
			return
		}
	case 2:
		mtu := p.be32(off + 4)
		p.str(", mtu ")
		p.uint(uint64(mtu))
	case 3:
		switch code {
		case 0:
			p.check(oip+24, 16)
			p.str(" for ")
			p.ipv6(oip + 24)
		case 1:
			p.str(" (reassembly)")
		default:
			p.str(", unknown code (")
			p.uint(uint64(code))
			p.str(")")
		}
	case 4:
		if !p.ttest(oip+24, 16) {
			p.truncMark()
			return
		}
		switch code {
		case 0:
			p.str(", erroneous - octet ")
		case 1:
			p.str(", next header - octet ")
		case 2:
			p.str(", option - octet ")
		case 3:
			p.str(", incomplete header chain - octet ")
		default:
			p.str(", code-#")
			p.uint(uint64(code))
		}
		if code <= 3 {
			p.uint(uint64(p.be32(off + 4)))
		}
	case 128, 129:
		p.check(off+4, 4)
		p.str(", id ")
		p.uint(uint64(p.be16(off + 4)))
		p.str(", seq ")
		p.uint(uint64(p.be16(off + 6)))
	case 130:
		switch {
		case length == 24:
			p.mld6(off)
		case length >= 28:
			p.str(" v2")
			p.check(off+4, 2)
			p.check(off+8, 16)
			p.str(" [gaddr ")
			p.ipv6(off + 8)
			if n := p.be16(off + 26); n > 0 {
				if length < 28+int(n)*16 {
					p.str(" [invalid number of sources]")
				} else {
					p.str(", ")
					p.uint(uint64(n))
					p.str(" source(s)")
				}
			}
			p.str("]")
		default:
			p.str(" unknown-version (len ")
			p.uint(uint64(length))
			p.str(") ")
		}
	case 131, 132:
		p.mld6(off)
	case 133, 134, 141, 142:
	case 135:
		p.check(off+8, 16)
		p.str(", who has ")
		p.ipv6(off + 8)
	case 136:
		p.check(off+8, 16)
		p.str(", tgt is ")
		p.ipv6(off + 8)
	case 137:
		p.check(off+24, 16)
		p.str(", ")
		p.ipv6(off + 24)
		p.check(off+8, 16)
		p.str(" to ")
		p.ipv6(off + 8)
	case 143:
		if length < 8 {
			p.str(" [invalid len ")
			p.uint(uint64(length))
			p.str("]")
		} else {
			n := p.be16(off + 6)
			p.str(", ")
			p.uint(uint64(n))
			p.str(" group record(s)")
		}
	case 146, 144:
		id := p.be16(off + 4)
		p.str(", id 0x")
		p.hex(uint64(id), 4)
	case 145, 147:
	case 138, 139, 140, 155:
		// Router renumbering, node information and RPL have printers
		// of their own; not ours.
		return
	default:
		p.str(", length ")
		p.uint(uint64(length))
		p.unknownData(off, length)
		return
	}
	p.str(", length ")
	p.uint(uint64(length))
}

// mld6 is mld6_print: nothing at all when the message was not captured whole.
func (p *printer) mld6(off int) {
	if off+24 > p.end {
		return
	}
	p.str("max resp delay: ")
	p.uint(uint64(p.be16(off + 4)))
	p.str(" addr: ")
	p.ipv6(off + 8)
}

// upperLayer6 is get_upperlayer: it walks the quoted IPv6 header's
// extension headers to the UDP or TCP header and returns its offset.
func (p *printer) upperLayer6(ip6 int) (off int, prot uint8, ok bool) {
	if !p.ttest(ip6+6, 1) {
		return 0, 0, false
	}
	nh := p.u8(ip6 + 6)
	hlen := 40
	bp := ip6
	for bp < p.end {
		bp += hlen
		switch nh {
		case 6, 17:
			if p.ttest(bp+2, 2) {
				return bp, nh, true
			}
			return 0, 0, false
		case 0, 60, 43:
			if !p.ttest(bp+1, 1) {
				return 0, 0, false
			}
			nh = p.u8(bp)
			hlen = (int(p.u8(bp+1)) + 1) << 3
		case 44:
			if !p.ttest(bp+2, 2) {
				return 0, 0, false
			}
			if p.be16(bp+2)&0xfff8 != 0 {
				return 0, 0, false
			}
			nh = p.u8(bp)
			hlen = 8
		case 51:
			if !p.ttest(bp+1, 1) {
				return 0, 0, false
			}
			nh = p.u8(bp)
			hlen = (int(p.u8(bp+1)) + 2) << 2
		default:
			return 0, 0, false
		}
	}
	return 0, 0, false
}
