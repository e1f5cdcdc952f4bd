package tcpdump

// ICMPv4 (print-icmp.c); length is the ICMP message length from the IP
// header.

var icmpUnreachText = [...]string{
	0: "net %s unreachable", 1: "host %s unreachable", 5: "%s unreachable - source route failed",
	6: "net %s unreachable - unknown", 7: "host %s unreachable - unknown",
	8: "%s unreachable - source host isolated", 9: "net %s unreachable - admin prohibited",
	10: "host %s unreachable - admin prohibited", 11: "net %s unreachable - tos prohibited",
	12: "host %s unreachable - tos prohibited", 13: "host %s unreachable - admin prohibited filter",
	14: "host %s unreachable - host precedence violation", 15: "host %s unreachable - precedence cutoff",
}

func (p *printer) icmp(off, length int) {
	p.proto = "icmp"
	typ := p.u8(off)
	code := p.u8(off + 1)
	// tcpdump formats the whole message into a buffer before printing, so a
	// message cut short prints none of it: render, and drop it on panic.
	start := len(p.out)
	defer func() {
		if r := recover(); r != nil {
			p.out = p.out[:start]
			panic(r)
		}
	}()
	p.str("ICMP ")
	inner := off + 8 // the quoted IP header of error messages
	switch typ {
	case 8, 0:
		id, seq := p.be16(off+4), p.be16(off+6)
		if typ == 8 {
			p.str("echo request, id ")
		} else {
			p.str("echo reply, id ")
		}
		p.uint(uint64(id))
		p.str(", seq ")
		p.uint(uint64(seq))
	case 3:
		switch code {
		case 2:
			p.ipv4(inner + 16)
			p.str(" protocol ")
			p.uint(uint64(p.u8(inner + 9)))
			p.str(" unreachable")
		case 3:
			p.check(inner+9, 1)
			hlen := int(p.u8(inner)&0x0f) * 4
			dport := p.be16(inner + hlen + 2)
			proto := p.u8(inner + 9)
			p.ipv4(inner + 16)
			switch proto {
			case 6:
				p.str(" tcp port ")
				p.uint(uint64(dport))
			case 17:
				p.str(" udp port ")
				p.uint(uint64(dport))
			default:
				p.str(" protocol ")
				p.uint(uint64(proto))
				p.str(" port ")
				p.uint(uint64(dport))
			}
			p.str(" unreachable")
		case 4:
			mtu := p.be16(off + 6)
			p.ipv4(inner + 16)
			p.str(" unreachable - need to frag")
			if mtu != 0 {
				p.str(" (mtu ")
				p.uint(uint64(mtu))
				p.str(")")
			}
		default:
			if int(code) < len(icmpUnreachText) && icmpUnreachText[code] != "" {
				p.format(icmpUnreachText[code], inner+16)
			} else {
				p.ipv4(inner + 16)
				p.str(" unreachable - #")
				p.uint(uint64(code))
			}
		}
	case 5:
		dst := inner + 16
		gw := off + 4
		switch code {
		case 0, 1, 2, 3:
			if code < 2 {
				p.str("redirect ")
			} else {
				p.str("redirect-tos ")
			}
			p.ipv4(dst)
			if code%2 == 0 {
				p.str(" to net ")
			} else {
				p.str(" to host ")
			}
			p.ipv4(gw)
		default:
			p.str("redirect-#")
			p.uint(uint64(code))
			p.str(" ")
			p.ipv4(dst)
			p.str(" to ")
			p.ipv4(gw)
		}
	case 9:
		p.str("router advertisement")
		p.check(off+4, 4)
		p.str(" lifetime ")
		lt := uint64(p.be16(off + 6))
		switch {
		case lt < 60:
			p.uint(lt)
		case lt < 3600:
			p.uint(lt / 60)
			p.str(":")
			p.out = appendZeroPadded(p.out, uint32(lt%60), 2)
		default:
			p.uint(lt / 3600)
			p.str(":")
			p.out = appendZeroPadded(p.out, uint32(lt%3600/60), 2)
			p.str(":")
			p.out = appendZeroPadded(p.out, uint32(lt%60), 2)
		}
		num := int(p.u8(off + 4))
		p.str(" ")
		p.uint(uint64(num))
		p.str(":")
		size := p.u8(off + 5)
		if size != 2 {
			p.str(" [size ")
			p.uint(uint64(size))
			p.str("]")
			break
		}
		for i, a := 0, off+8; i < num; i, a = i+1, a+8 {
			p.check(a, 8)
			p.str(" {")
			p.ipv4(a)
			p.str(" ")
			p.uint(uint64(p.be32(a + 4)))
			p.str("}")
		}
	case 11:
		p.check(inner+16, 4)
		switch code {
		case 0:
			p.str("time exceeded in-transit")
		case 1:
			p.str("ip reassembly time exceeded")
		default:
			p.str("time exceeded-#")
			p.uint(uint64(code))
		}
	case 12:
		if code != 0 {
			p.str("parameter problem - code ")
			p.uint(uint64(code))
		} else {
			p.str("parameter problem - octet ")
			p.uint(uint64(p.u8(off + 4)))
		}
	case 18:
		p.str("address mask is 0x")
		p.hex(uint64(p.be32(off+8)), 8)
	case 13:
		id, seq := p.be16(off+4), p.be16(off+6)
		p.str("time stamp query id ")
		p.uint(uint64(id))
		p.str(" seq ")
		p.uint(uint64(seq))
	case 14:
		p.check(off+16, 4)
		p.str("time stamp reply id ")
		p.uint(uint64(p.be16(off + 4)))
		p.str(" seq ")
		p.uint(uint64(p.be16(off + 6)))
		p.str(": org ")
		p.msTime(p.be32(off + 8))
		p.str(", recv ")
		p.msTime(p.be32(off + 12))
		p.str(", xmit ")
		p.msTime(p.be32(off + 16))
	case 4:
		p.str("source quench")
	case 10:
		p.str("router solicitation")
	case 15:
		p.str("information request")
	case 16:
		p.str("information reply")
	case 17:
		p.str("address mask request")
	default:
		p.str("type-#")
		p.uint(uint64(typ))
	}
	p.str(", length ")
	p.uint(uint64(length))
}

// format prints a pattern with one %s standing for the IPv4 address at off.
func (p *printer) format(pattern string, off int) {
	for i := 0; i < len(pattern); i++ {
		if pattern[i] == '%' && i+1 < len(pattern) && pattern[i+1] == 's' {
			p.ipv4(off)
			i++
			continue
		}
		p.out = append(p.out, pattern[i])
	}
}

// msTime prints milliseconds since midnight UTC as tcpdump's
// icmp_tstamp_print does.
func (p *printer) msTime(t uint32) {
	ms := t % 1000
	sec := t / 1000
	min := sec / 60
	sec -= min * 60
	hrs := min / 60
	min -= hrs * 60
	p.out = appendZeroPadded(p.out, hrs, 2)
	p.str(":")
	p.out = appendZeroPadded(p.out, min, 2)
	p.str(":")
	p.out = appendZeroPadded(p.out, sec, 2)
	p.str(".")
	p.out = appendZeroPadded(p.out, ms, 3)
}
