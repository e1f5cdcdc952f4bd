package tcpdump

import "github.com/smolfs/smolfs/netcore/wire"

// ARP (print-arp.c).

var arpOpNames = map[uint16]string{
	1: "Request", 2: "Reply", 3: "Reverse Request", 4: "Reverse Reply",
	8: "Inverse Request", 9: "Inverse Reply", 10: "NACK Reply",
}

var arpHrdNames = map[uint16]string{
	1: "Ethernet", 6: "TokenRing", 7: "ArcNet", 15: "FrameRelay", 23: "Strip",
	24: "IEEE 1394", 19: "ATM", 32: "InfiniBand",
}

// Hardware types whose addresses print differently.
const (
	arpHrdFrameRelay = 15
	arpHrdATM        = 19
)

func (p *printer) arp(off, length, caplen int) {
	p.proto = "arp"
	p.check(off, wire.ARPSHAOff)
	hrd := p.be16(off + wire.ARPHTypeOff)
	pro := p.be16(off + wire.ARPPTypeOff)
	hln := int(p.u8(off + wire.ARPHLenOff))
	pln := int(p.u8(off + wire.ARPPLenOff))
	op := p.be16(off + wire.ARPOpOff)
	if hrd == arpHrdATM {
		p.atmarp(off, length, caplen)
		return
	}
	sha := off + wire.ARPSHAOff
	spa := sha + hln
	tha := spa + pln
	tpa := tha + hln
	p.check(tpa, pln)

	if (pro != uint16(wire.EtherTypeIPv4) && pro != etherTypeTrail) || pln != 4 || hln == 0 {
		p.hrdName(hrd)
		p.field(" (len ", uint64(hln))
		p.str("), ")
		p.protoName(pro)
		p.field(" (len ", uint64(pln))
		p.str(")")
		p.arpLength(length)
		return
	}
	p.opName(op)
	switch op {
	case 1:
		p.str("who-has ")
		p.ipv4(tpa)
		nonzero := false
		for i := 0; i < hln; i++ {
			if p.u8(tha+i) != 0 {
				nonzero = true
				break
			}
		}
		if nonzero {
			p.str(" (")
			p.linkAddr(hrd, tha, hln)
			p.str(")")
		}
		p.str(" tell ")
		p.ipv4(spa)
	case 2:
		p.ipv4(spa)
		p.str(" is-at ")
		p.linkAddr(hrd, sha, hln)
	case 3, 8:
		p.str("who-is ")
		p.linkAddr(hrd, tha, hln)
		p.str(" tell ")
		p.linkAddr(hrd, sha, hln)
	case 4:
		p.linkAddr(hrd, tha, hln)
		p.str(" at ")
		p.ipv4(tpa)
	case 9:
		p.linkAddr(hrd, sha, hln)
		p.str(" at ")
		p.ipv4(spa)
	default:
		p.defaultPrint(off, caplen)
		return
	}
	p.arpLength(length)
}

func (p *printer) arpLength(length int) { p.field(", length ", uint64(length)) }

func (p *printer) hrdName(hrd uint16) { printName(p, arpHrdNames, hrd, "Unknown Hardware (", ")") }

func (p *printer) opName(op uint16) {
	printName(p, arpOpNames, op, "Unknown (", ")")
	p.str(" ")
}

// protoName is the protocol of an ARP packet that is not for IPv4.
func (p *printer) protoName(pro uint16) {
	if n, ok := etherTypeNames[pro]; ok {
		p.str(n)
		return
	}
	p.str("Unknown Protocol")
	p.hexParen(uint64(pro), 4)
}

// linkAddr is linkaddr_string: a MAC for 6-byte Ethernet addresses, colon
// separated hex for any other length, and for Frame Relay a Q.922 DLCI.
func (p *printer) linkAddr(hrd uint16, off, n int) {
	p.check(off, n)
	if n == 0 {
		p.str("<empty>")
		return
	}
	if hrd == arpHrdFrameRelay {
		p.q922(off, n)
		return
	}
	if n == 6 {
		p.mac(off)
		return
	}
	for i := 0; i < n; i++ {
		if i > 0 {
			p.out = append(p.out, ':')
		}
		p.hex(uint64(p.pkt[off+i]), 2)
	}
}

// q922 is q922_string for the Frame Relay ARP addresses.
func (p *printer) q922(off, n int) {
	if n < 2 {
		p.str("<Truncated>")
		return
	}
	b0, b1 := p.pkt[off], p.pkt[off+1]
	if b0&0x01 != 0 || b1&0x01 == 0 && n < 3 {
		// A first byte with EA set is not a Q.922 address; a second byte
		// without it needs more bytes than there are.
		if b0&0x01 != 0 {
			p.str("<Invalid DLCI>")
		} else {
			p.str("<Truncated>")
		}
		return
	}
	dlci := uint32(b0&0xfc)<<2 | uint32(b1&0xf0)>>4
	if b1&0x01 == 0 {
		b2 := p.pkt[off+2]
		if b2&0x02 != 0 {
			p.str("<Invalid DLCI>")
			return
		}
		dlci = dlci<<6 | uint32(b2&0xfc)>>2
		if b2&0x01 == 0 {
			if n < 4 {
				p.str("<Truncated>")
				return
			}
			b3 := p.pkt[off+3]
			dlci = dlci<<7 | uint32(b3&0xfe)>>1
			if b3&0x01 == 0 {
				p.str("<Invalid DLCI>")
				return
			}
		}
	}
	p.field("DLCI ", uint64(dlci))
}

// atmarp is atmarp_print, for ARP over ATM (RFC 2225): after the operation,
// four type-and-length bytes (of the source ATM number and subaddress, with
// the source protocol address length between them), then the same for the
// target, then the variable-length addresses.
func (p *printer) atmarp(off, length, caplen int) {
	p.check(off, 12)
	hrd := p.be16(off)
	pro := p.be16(off + 2)
	shl := int(p.u8(off+4) & 0x3f)
	ssl := int(p.u8(off+5) & 0x3f)
	op := p.be16(off + 6)
	spl := int(p.u8(off + 8))
	thl := int(p.u8(off+9) & 0x3f)
	tsl := int(p.u8(off+10) & 0x3f)
	tpl := int(p.u8(off + 11))
	sha := off + 12
	ssa := sha + shl
	spa := ssa + ssl
	tha := spa + spl
	tsa := tha + thl
	tpa := tsa + tsl
	p.check(tpa, tpl)
	if (pro != uint16(wire.EtherTypeIPv4) && pro != etherTypeTrail) || spl != 4 || tpl != 4 {
		p.hrdName(hrd)
		p.str(", ")
		p.protoName(pro)
		p.field(" (len ", uint64(spl))
		p.field("/", uint64(tpl))
		p.str(")")
		p.arpLength(length)
		return
	}
	p.opName(op)
	atmAddr := func(ha, hl, sa, sl int) {
		if hl == 0 {
			p.str("<No address>")
			return
		}
		p.linkAddr(0, ha, hl)
		if sl != 0 {
			p.str(",")
			p.linkAddr(0, sa, sl)
		}
	}
	switch op {
	case 1:
		p.str("who-has ")
		p.ipv4(tpa)
		if thl != 0 {
			p.str(" (")
			atmAddr(tha, thl, tsa, tsl)
			p.str(")")
		}
		p.str(" tell ")
		p.ipv4(spa)
	case 2:
		p.ipv4(spa)
		p.str(" is-at ")
		atmAddr(sha, shl, ssa, ssl)
	case 8:
		p.str("who-is ")
		atmAddr(tha, thl, tsa, tsl)
		p.str(" tell ")
		atmAddr(sha, shl, ssa, ssl)
	case 9:
		atmAddr(sha, shl, ssa, ssl)
		p.str("at ")
		p.ipv4(spa)
	case 10:
		p.str("for ")
		p.ipv4(spa)
	default:
		p.defaultPrint(off, caplen)
		return
	}
	p.arpLength(length)
}
