package tcpdump

// IPv6 (print-ip6.c, print-ip6opts.c, print-frag6.c).

func (p *printer) ip6(off, length int) {
	p.proto = "ip6"
	if !p.ttest(off, 40) {
		p.truncMark()
		return
	}
	if length < 40 {
		p.str("truncated-ip6 ")
		p.uint(uint64(length))
		return
	}
	if v := p.u8(off) >> 4; v != 6 {
		p.str("version error: ")
		p.uint(uint64(v))
		p.str(" != 6")
		return
	}
	payloadLen := int(p.be16(off + 4))
	var total int
	if payloadLen != 0 {
		total = payloadLen + 40
		if length < total {
			p.str("truncated-ip6 - ")
			p.uint(uint64(total - length))
			p.str(" bytes missing!")
		}
	} else {
		total = length + 40
	}
	nh := p.u8(off + 6)
	ph := uint8(255)
	old := p.pushSnap(off, total)
	defer func() { p.end = old }()
	cp := off
	advance := 40
	foundExt, foundHBH, fragmented := false, false, false
	rem := total
	for cp < p.end && advance > 0 {
		if rem < advance {
			p.truncMark()
			return
		}
		cp += advance
		rem -= advance
		if cp == off+40 && nh != 6 && nh != 17 && nh != 33 && nh != 132 {
			p.ipv6(off + 8)
			p.str(" > ")
			p.ipv6(off + 24)
			p.str(": ")
		}
		switch nh {
		case 0: // hop-by-hop options
			if foundHBH {
				p.str("[The Hop-by-Hop Options header was already found] (invalid)")
				return
			}
			if ph != 255 {
				p.str("[The Hop-by-Hop Options header don't follow the IPv6 header] (invalid)")
				return
			}
			p.proto = "hbhopt"
			hl := (int(p.u8(cp+1)) + 1) << 3
			if !p.ttest(cp, hl) {
				p.truncMark()
				advance = -1
			} else {
				p.str("HBH ")
				if !p.ip6Options(cp+2, hl-2) {
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
		case 60: // destination options
			p.proto = "dstopt"
			hl := (int(p.u8(cp+1)) + 1) << 3
			if !p.ttest(cp, hl) {
				p.truncMark()
				return
			}
			p.str("DSTOPT ")
			advance = hl
			foundExt = true
			nh = p.u8(cp)
		case 44: // fragment
			p.proto = "frag6"
			offlg := p.be16(cp + 2)
			fragLen := uint64(int64(40 + int(p.be16(off+4)) - (cp - off) - 8))
			p.str("frag (")
			p.uint(uint64(offlg & 0xfff8))
			p.str("|")
			p.uint(fragLen)
			p.str(")")
			if offlg&0xfff8 != 0 {
				return
			}
			p.str(" ")
			advance = 8
			if p.end <= cp+advance {
				return
			}
			foundExt = true
			nh = p.u8(cp)
			fragmented = true
		case 135, 62, 43:
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
				p.end = min(p.end, off+40)
			}
			p.ipDemux(cp, plen, 6, fragmented, nh, off)
			return
		}
		ph = nh
		p.proto = "ip6"
	}
}

// ip6Options is ip6_opt_process without -v: it prints only problems and
// reports false where tcpdump gives up on the header as truncated.
func (p *printer) ip6Options(off, n int) bool {
	for i, olen := 0, 0; i < n; i += olen {
		t := p.u8(off + i)
		if t == 0 {
			olen = 1
		} else {
			if i+1 >= n {
				return false
			}
			olen = int(p.u8(off+i+1)) + 2
		}
		if i+olen > n {
			return false
		}
		switch t {
		case 0:
		case 1:
			if n-i < 2 {
				p.str("(padn: trunc)")
				return false
			}
		case 5:
			if n-i < 4 {
				p.str("(rtalert: trunc)")
				return false
			}
			if l := p.u8(off + i + 1); l != 2 {
				p.str("(rtalert: invalid len ")
				p.uint(uint64(l))
				p.str(")")
				return false
			}
		case 0xc2:
			if n-i < 6 {
				p.str("(jumbo: trunc)")
				return false
			}
			if l := p.u8(off + i + 1); l != 4 {
				p.str("(jumbo: invalid len ")
				p.uint(uint64(l))
				p.str(")")
				return false
			}
		case 0xc9:
			if n-i < 18 {
				p.str("(homeaddr: trunc)")
				return false
			}
			if l := p.u8(off + i + 1); l < 16 {
				p.str("(homeaddr: invalid len ")
				p.uint(uint64(l))
				p.str(")")
				return false
			}
		default:
			if n-i < 2 {
				p.str("(type ")
				p.uint(uint64(t))
				p.str(": trunc)")
				return false
			}
		}
	}
	return true
}
