package tcpdump

import "github.com/smolfs/smolfs/netcore/wire"

// ICMPv4 (print-icmp.c); length is the ICMP message length from the IP
// header.

// unreachPort prints the port of a port-unreachable message and reports
// whether the protocol had a name.
func (p *printer) unreachPort(proto uint8, dport uint16) bool {
	switch proto {
	case protoTCP:
		p.field(" tcp port ", uint64(dport))
	case protoUDP:
		p.field(" udp port ", uint64(dport))
	default:
		p.field(" protocol ", uint64(proto))
		p.field(" port ", uint64(dport))
		return false
	}
	return true
}

var icmpUnreachText = [...]string{
	0: "net %s unreachable", 1: "host %s unreachable", 5: "%s unreachable - source route failed",
	6: "net %s unreachable - unknown", 7: "host %s unreachable - unknown",
	8: "%s unreachable - source host isolated", 9: "net %s unreachable - admin prohibited",
	10: "host %s unreachable - admin prohibited", 11: "net %s unreachable - tos prohibited",
	12: "host %s unreachable - tos prohibited", 13: "host %s unreachable - admin prohibited filter",
	14: "host %s unreachable - host precedence violation", 15: "host %s unreachable - precedence cutoff",
}

// icmpNames are the messages printed by their name alone.
var icmpNames = map[wire.ICMPType]string{
	wire.ICMPSourceQuench: "source quench", wire.ICMPRouterSolicit: "router solicitation",
	wire.ICMPInfoRequest: "information request", wire.ICMPInfoReply: "information reply",
	wire.ICMPAddrMaskRequest: "address mask request",
}

func (p *printer) icmp(off, length int) {
	p.proto = "icmp"
	typ := wire.ICMPType(p.u8(off + wire.ICMPTypeOff))
	code := p.u8(off + wire.ICMPCodeOff)
	// tcpdump formats the whole message into a buffer before printing, so a
	// message cut short prints none of it: render, and drop it on panic.
	// (So the order of reads and prints below does not matter.)
	start := len(p.out)
	defer func() {
		if r := recover(); r != nil {
			p.out = p.out[:start]
			panic(r)
		}
	}()
	p.str("ICMP ")
	inner := off + wire.ICMPQuoteOff // the quoted IP header of error messages
	innerDst := inner + wire.IPv4DstOff
	id, seq := off+wire.ICMPIdentOff, off+wire.ICMPSeqOff
	switch typ {
	case wire.ICMPEchoRequest, wire.ICMPEchoReply:
		if typ == wire.ICMPEchoRequest {
			p.str("echo request")
		} else {
			p.str("echo reply")
		}
		p.field(", id ", uint64(p.be16(id)))
		p.field(", seq ", uint64(p.be16(seq)))
	case wire.ICMPDestUnreachable:
		switch code {
		case wire.ICMPProtocolUnreachable:
			p.ipv4(innerDst)
			p.field(" protocol ", uint64(p.u8(inner+wire.IPv4ProtoOff)))
			p.str(" unreachable")
		case wire.ICMPPortUnreachable:
			p.check(inner+wire.IPv4ProtoOff, 1)
			hlen := int(p.u8(inner+wire.IPv4VerIHLOff)&0x0f) * 4
			dport := p.be16(inner + hlen + udpDstPortOff) // TCP's is there too
			proto := p.u8(inner + wire.IPv4ProtoOff)
			p.ipv4(innerDst)
			p.unreachPort(proto, dport)
			p.str(" unreachable")
		case wire.ICMPFragNeeded:
			mtu := p.be16(off + wire.ICMPMTUOff)
			p.ipv4(innerDst)
			p.str(" unreachable - need to frag")
			if mtu != 0 {
				p.field(" (mtu ", uint64(mtu))
				p.str(")")
			}
		default:
			if int(code) < len(icmpUnreachText) && icmpUnreachText[code] != "" {
				p.format(icmpUnreachText[code], innerDst)
			} else {
				p.ipv4(innerDst)
				p.field(" unreachable - #", uint64(code))
			}
		}
	case wire.ICMPRedirect:
		gw := off + wire.ICMPGatewayOff
		switch code {
		case 0, 1, 2, 3:
			if code < 2 {
				p.str("redirect ")
			} else {
				p.str("redirect-tos ")
			}
			p.ipv4(innerDst)
			if code%2 == 0 {
				p.str(" to net ")
			} else {
				p.str(" to host ")
			}
		default:
			p.field("redirect-#", uint64(code))
			p.str(" ")
			p.ipv4(innerDst)
			p.str(" to ")
		}
		p.ipv4(gw)
	case wire.ICMPRouterAdvert:
		p.str("router advertisement")
		p.check(off+wire.ICMPRANumOff, 4)
		p.str(" lifetime ")
		lt := uint32(p.be16(off + wire.ICMPRALifeOff))
		switch {
		case lt < 60:
			p.uint(uint64(lt))
		case lt < 3600:
			p.uint(uint64(lt / 60))
			p.padded(":", lt%60, 2)
		default:
			p.uint(uint64(lt / 3600))
			p.padded(":", lt%3600/60, 2)
			p.padded(":", lt%60, 2)
		}
		num := int(p.u8(off + wire.ICMPRANumOff))
		p.field(" ", uint64(num))
		p.str(":")
		size := p.u8(off + wire.ICMPRAEntSizeOff)
		if size != 2 {
			p.field(" [size ", uint64(size))
			p.str("]")
			break
		}
		for i, a := 0, off+wire.ICMPRAEntriesOff; i < num; i, a = i+1, a+8 {
			p.check(a, 8)
			p.str(" {")
			p.ipv4(a)
			p.field(" ", uint64(p.be32(a+4)))
			p.str("}")
		}
	case wire.ICMPTimeExceeded:
		p.check(innerDst, 4)
		switch code {
		case 0:
			p.str("time exceeded in-transit")
		case 1:
			p.str("ip reassembly time exceeded")
		default:
			p.field("time exceeded-#", uint64(code))
		}
	case wire.ICMPParamProblem:
		if code != 0 {
			p.field("parameter problem - code ", uint64(code))
		} else {
			p.field("parameter problem - octet ", uint64(p.u8(off+wire.ICMPPointerOff)))
		}
	case wire.ICMPAddrMaskReply:
		p.str("address mask is 0x")
		p.hex(uint64(p.be32(off+wire.ICMPAddrMaskOff)), 8)
	case wire.ICMPTimestamp:
		p.field("time stamp query id ", uint64(p.be16(id)))
		p.field(" seq ", uint64(p.be16(seq)))
	case wire.ICMPTimestampReply:
		p.check(off+wire.ICMPTimeXmitOff, 4)
		p.field("time stamp reply id ", uint64(p.be16(id)))
		p.field(" seq ", uint64(p.be16(seq)))
		p.str(": org ")
		p.msTime(p.be32(off + wire.ICMPTimeOrigOff))
		p.str(", recv ")
		p.msTime(p.be32(off + wire.ICMPTimeRecvOff))
		p.str(", xmit ")
		p.msTime(p.be32(off + wire.ICMPTimeXmitOff))
	default:
		printName(p, icmpNames, typ, "type-#", "")
	}
	p.field(", length ", uint64(length))
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
	p.padded("", hrs, 2)
	p.padded(":", min, 2)
	p.padded(":", sec, 2)
	p.padded(".", ms, 3)
}
