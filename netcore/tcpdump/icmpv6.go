package tcpdump

import "github.com/smolfs/smolfs/netcore/wire"

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

var icmp6UnreachNames = map[uint8]string{
	0: "unreachable route", 1: " unreachable prohibited", 2: "beyond scope",
	3: "unreachable address", 4: "unreachable port",
}

var icmp6ParamProbNames = map[uint8]string{
	0: ", erroneous - octet ", 1: ", next header - octet ", 2: ", option - octet ",
	3: ", incomplete header chain - octet ",
}

// icmp6QuoteOff is where an error message quotes the offending packet.
const icmp6QuoteOff = wire.ICMPv6QuoteOff

// ipv6Field prints label and the IPv6 address at off, or ends the frame
// before the label when the address was not captured.
func (p *printer) ipv6Field(label string, off int) {
	p.check(off, 16)
	p.str(label)
	p.ipv6(off)
}

func (p *printer) icmp6(off, length int, fragmented bool) {
	p.proto = "icmp6"
	if length == 0 {
		p.str("ICMP6, length 0 (invalid)")
		return
	}
	typ := p.u8(off)
	p.str("ICMP6, ")
	printName(p, icmp6TypeNames, typ, "unknown icmp6 type (", ")")
	code := p.u8(off + 1)
	oip := off + icmp6QuoteOff
	switch typ {
	case 1:
		p.str(", ")
		printName(p, icmp6UnreachNames, code, "unknown unreach code (", ")")
		switch code {
		case 0, 1, 3:
			p.ipv6Field(" ", oip+ip6DstOff)
		case 2:
			p.check(oip+ip6SrcOff, 32)
			p.str(" ")
			p.ipv6(oip + ip6DstOff)
			p.str(", source address ")
			p.ipv6(oip + ip6SrcOff)
		case 4:
			uh, prot, ok := p.upperLayer6(oip)
			if !ok {
				p.truncMark()
				return
			}
			dport := p.be16(uh + 2)
			p.ipv6Field(", ", oip+ip6DstOff)
			if !p.unreachPort(prot, dport) {
				p.str(" unreachable")
			}
		default:
			p.unknownData(off, length)
			return
		}
	case 2:
		mtu := p.be32(off + wire.ICMPv6MTUOff)
		p.field(", mtu ", uint64(mtu))
	case 3:
		switch code {
		case 0:
			p.ipv6Field(" for ", oip+ip6DstOff)
		case 1:
			p.str(" (reassembly)")
		default:
			p.field(", unknown code (", uint64(code))
			p.str(")")
		}
	case 4:
		if !p.ttest(oip+ip6DstOff, 16) {
			p.truncMark()
			return
		}
		if n, ok := icmp6ParamProbNames[code]; ok {
			p.field(n, uint64(p.be32(off+wire.ICMPv6PointerOff)))
		} else {
			p.field(", code-#", uint64(code))
		}
	case 128, 129:
		p.check(off+wire.ICMPv6IdentOff, 4)
		p.field(", id ", uint64(p.be16(off+wire.ICMPv6IdentOff)))
		p.field(", seq ", uint64(p.be16(off+wire.ICMPv6SeqOff)))
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
					p.field(", ", uint64(n))
					p.str(" source(s)")
				}
			}
			p.str("]")
		default:
			p.field(" unknown-version (len ", uint64(length))
			p.str(") ")
		}
	case 131, 132:
		p.mld6(off)
	case 133, 134, 141, 142:
	case 135:
		p.ipv6Field(", who has ", off+wire.NDPTargetOff)
	case 136:
		p.ipv6Field(", tgt is ", off+wire.NDPTargetOff)
	case 137:
		p.ipv6Field(", ", off+24)
		p.ipv6Field(" to ", off+8)
	case 143:
		if length < 8 {
			p.field(" [invalid len ", uint64(length))
			p.str("]")
		} else {
			n := p.be16(off + wire.MLDv2ReportNRecOff)
			p.field(", ", uint64(n))
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
		p.field(", length ", uint64(length))
		p.unknownData(off, length)
		return
	}
	p.field(", length ", uint64(length))
}

// mld6 is mld6_print: nothing at all when the message was not captured whole.
func (p *printer) mld6(off int) {
	if off+24 > p.end {
		return
	}
	p.field("max resp delay: ", uint64(p.be16(off+wire.MLDMaxRespOff)))
	p.str(" addr: ")
	p.ipv6(off + wire.MLDGroupOff)
}

// upperLayer6 is get_upperlayer: it walks the quoted IPv6 header's
// extension headers to the UDP or TCP header and returns its offset.
func (p *printer) upperLayer6(ip6 int) (off int, prot uint8, ok bool) {
	if !p.ttest(ip6+ip6NextHeaderOff, 1) {
		return 0, 0, false
	}
	nh := p.u8(ip6 + ip6NextHeaderOff)
	hlen := ip6HeaderLen
	bp := ip6
	for bp < p.end {
		bp += hlen
		switch nh {
		case protoTCP, protoUDP:
			if p.ttest(bp+2, 2) {
				return bp, nh, true
			}
			return 0, 0, false
		case ipProtoHopOpts, ipProtoDstOpts, ipProtoRouting:
			if !p.ttest(bp+1, 1) {
				return 0, 0, false
			}
			nh = p.u8(bp)
			hlen = p.ip6ExtLen(bp)
		case ipProtoFragment:
			if !p.ttest(bp+2, 2) {
				return 0, 0, false
			}
			if p.be16(bp+2)&ip6FragOffMask != 0 {
				return 0, 0, false
			}
			nh = p.u8(bp)
			hlen = 8
		case ipProtoAH:
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
